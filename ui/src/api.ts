// The GraphQL operations the dashboard uses and their result types.

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface RevisionSummary {
  number: number;
  author: string;
  message: string;
  createdAt: string;
  sha256: string;
}

export interface DesignListItem {
  name: string;
  headRevision: number;
  updatedAt: string;
  head: { author: string; message: string; createdAt: string };
}

export interface DesignsData {
  designs: {
    totalCount: number;
    pageInfo: PageInfo;
    edges: { cursor: string; node: DesignListItem }[];
  };
}

export const DesignsQuery = `query Designs($first: Int, $after: String, $last: Int, $before: String) {
  designs(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name headRevision updatedAt head { author message createdAt } } }
  }
}`;

export interface DesignData {
  design: {
    name: string;
    headRevision: number;
    createdAt: string;
    updatedAt: string;
    head: RevisionSummary & { content: string };
    history: { edges: { node: RevisionSummary }[]; pageInfo: PageInfo };
  } | null;
}

export const DesignQuery = `query Design($name: String!, $first: Int, $after: String) {
  design(name: $name) {
    name headRevision createdAt updatedAt
    head { number content sha256 author message createdAt }
    history(first: $first, after: $after) {
      edges { node { number author message createdAt sha256 } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`;

export interface DiffData {
  diff: { design: string; from: number; to: number; unified: string; identical: boolean };
}

export const DiffQuery = `query Diff($design: String!, $from: Int!, $to: Int) {
  diff(design: $design, from: $from, to: $to) { design from to unified identical }
}`;

export interface SaveData {
  saveDesign: { created: boolean; revision: { number: number } };
}

export const SaveMutation = `mutation Save($input: SaveDesignInput!) {
  saveDesign(input: $input) { created revision { number } }
}`;

export interface CapabilityData {
  capabilities: {
    meshes: string[];
    rows: { feature: string; title: string; field: string; meshes: { mesh: string; support: string; note: string | null }[] }[];
  };
}

export const CapabilitiesQuery = `query Capabilities {
  capabilities { meshes rows { feature title field meshes { mesh support note } } }
}`;

export const MeshesQuery = `query Meshes { capabilities { meshes } }`;

export interface TranslationWarning {
  path: string;
  mesh: string;
  feature: string;
  lost: string;
  severity: string;
}

export interface TranslateData {
  translate: { mesh: string; design: string; revision: number; manifests: string; objectCount: number; warnings: TranslationWarning[] };
}

export const TranslateQuery = `query Translate($design: String!, $mesh: String!) {
  translate(design: $design, mesh: $mesh) {
    mesh design revision manifests objectCount
    warnings { path mesh feature lost severity }
  }
}`;

export interface Finding {
  rule: string;
  severity: string;
  title: string;
  message: string;
  path: string;
  object: string | null;
  line: number | null;
  column: number | null;
  remedy: string;
  mesh: string | null;
  suppressed: boolean;
  suppressReason: string | null;
}

export interface CheckData {
  check: { design: string; revision: number; meshes: string[]; findings: Finding[]; warnings: TranslationWarning[] };
}

export const CheckQuery = `query Check($design: String!, $meshes: [String!]) {
  check(design: $design, meshes: $meshes) {
    design revision meshes
    findings { rule severity title message path object line column remedy mesh suppressed suppressReason }
    warnings { path mesh feature lost severity }
  }
}`;

export interface MeData {
  me: { name: string; role: string };
}

export const MeQuery = `query Me { me { name role } }`;

export interface DesignChange {
  kind: 'SAVED' | 'DELETED';
  name: string;
  revision: number;
  actor: string;
  time: string;
}

export const DesignChangedSubscription = `subscription DesignChanged { designChanged { kind name revision actor time } }`;

export interface HistoryData {
  design: { history: { edges: { node: RevisionSummary }[]; pageInfo: PageInfo } } | null;
}

export const HistoryQuery = `query History($name: String!, $first: Int, $after: String) {
  design(name: $name) {
    history(first: $first, after: $after) {
      edges { node { number author message createdAt sha256 } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}`;
