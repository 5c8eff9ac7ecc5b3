// Browser tests of the dashboard against the real Trellis server (test/e2e/ui/server), driven
// with playwright-core and the system Chromium. Run with ./run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = process.env.SCREENSHOT_DIR ?? tmpdir();

let server;
let base;
let token;
let browserContext;
let browser;
let work;

/** Starts the harness and waits for its {"url","token"} line. */
async function startServer() {
  const bin = join(work, 'ui-e2e-server');
  execFileSync('go', ['build', '-o', bin, './test/e2e/ui/server'], { cwd: root, stdio: 'inherit' });
  const proc = spawn(bin, ['-examples', join(root, 'examples/designs')], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout });
  const first = await new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`server exited with ${code} before it was ready`)));
    lines.once('line', ok);
  });
  const info = JSON.parse(first);
  return { proc, url: info.url, token: info.token };
}

/** Sends a GraphQL request as another client would. */
async function gql(query, variables = {}, bearer = token) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

async function head(name) {
  const r = await gql('query($n: String!) { design(name: $n) { headRevision head { content } } }', { n: name });
  return r.data.design;
}

async function save(name, content, expectedRevision, message = '') {
  return gql('mutation($i: SaveDesignInput!) { saveDesign(input: $i) { created revision { number } } }', {
    i: { name, content, expectedRevision, message },
  });
}

/** Opens a fresh tab (fresh sessionStorage) and signs in. */
async function signedInPage() {
  const page = await browserContext.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Designs' }).waitFor();
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `trellis-ui-${name}.png`), fullPage: true });
}

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

/**
 * Launches the system Chromium and opens a context. A browser that dies while starting (seen once
 * on a CI machine, not reproducible) is retried with a pause; when every attempt fails, the error
 * says what the machine looked like so the cause can be found from the log alone.
 */
async function launchBrowser() {
  const attempts = 3;
  let last;
  for (let i = 1; i <= attempts; i++) {
    try {
      // The last attempt starts Chromium without its zygote, in one process: fewer processes
      // and threads, for a machine whose limits stop the usual start.
      const args = i < attempts && !process.env.TRELLIS_UI_SINGLE_PROCESS ? chromiumArgs : [...chromiumArgs, '--no-zygote', '--single-process'];
      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args });
      return await browser.newContext({ viewport: { width: 1280, height: 900 } });
    } catch (err) {
      last = err;
      await browser?.close().catch(() => {});
      browser = undefined;
      console.error(`# chromium did not start (attempt ${i} of ${attempts}): ${String(err.message).split('\n')[0]}`);
      await new Promise((ok) => setTimeout(ok, 2000 * i));
    }
  }
  throw new Error(`chromium (${chromiumPath}) did not start after ${attempts} attempts; machine: ${diagnose()}\n${last?.message}`);
}

/** Describes the machine's state for a failed browser start: memory, disk, /dev/shm, Chromium's own stderr. */
function diagnose() {
  const run = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (err) {
      return `${cmd} failed: ${String(err.stderr ?? err.message).slice(-4000)}`;
    }
  };
  return [
    run('free', ['-m']),
    run('df', ['-h', tmpdir(), '/dev/shm']),
    run(chromiumPath, [...chromiumArgs, '--enable-logging=stderr', '--v=0', '--dump-dom', 'about:blank']),
  ].join('\n');
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'trellis-ui-e2e-'));
  const s = await startServer();
  server = s.proc;
  base = s.url;
  token = s.token;
  browserContext = await launchBrowser();
});

after(async () => {
  await browserContext?.close();
  await browser?.close();
  if (server && server.exitCode === null) {
    server.stdin.end();
    server.kill('SIGTERM');
    await new Promise((ok) => server.once('exit', ok));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a wrong token is refused with a clear 401 message', async () => {
  const page = await browserContext.newPage();
  await page.goto(`${base}/designs/bookinfo`);
  await page.waitForURL(`${base}/signin`);
  await page.getByLabel('API token').fill('trellis_not-a-real-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /401 Unauthorized/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('trellis.token')), null);
  await shot(page, 'signin-error');
  await page.close();
});

test('signing in lists the example designs with their latest revision and author', async () => {
  // Keyboard only: the token field has focus on load, Enter submits, Tab reaches the skip link.
  const page = await browserContext.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('API token').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'token');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Designs' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('trellis.token')), token);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  const rows = page.locator('table[aria-label="Designs"] tbody tr');
  const names = await rows.locator('th').allInnerTexts();
  assert.deepEqual(names, ['bookinfo', 'external-api', 'resilience-profile', 'zero-trust-baseline']);
  const first = rows.first();
  assert.equal(await first.locator('[data-testid=revision]').innerText(), '1');
  assert.match(await first.innerText(), /trellis/);
  await page.locator('[data-live=live]').waitFor();
  await shot(page, 'designs');
  // A reload keeps the session (sessionStorage) and deep links work (SPA fallback).
  await page.goto(`${base}/designs/bookinfo`);
  await page.getByRole('heading', { name: 'Revision 1 (head)' }).waitFor();
  await page.close();
});

test('a design shows its YAML and history; an invalid edit shows the violation like the CLI', async () => {
  const page = await signedInPage();
  await page.getByRole('link', { name: 'bookinfo' }).click();
  await page.getByRole('heading', { name: 'Revision 1 (head)' }).waitFor();
  const yaml = await page.getByLabel('YAML of revision 1').innerText();
  assert.match(yaml, /^apiVersion: trellis\.dev\/v1alpha1/);
  assert.match(yaml, /name: bookinfo/);
  assert.equal(await page.locator('ol.history li').count(), 1);
  await shot(page, 'design');

  await page.getByRole('link', { name: 'Edit' }).click();
  const area = page.getByLabel(/Design YAML/);
  const original = await area.inputValue();
  const invalid = original.replace('port: 9080', 'port: 99999');
  assert.notEqual(invalid, original);
  await area.fill(invalid);
  await page.getByRole('button', { name: 'Save revision' }).click();
  const item = page.locator('ul.violations li').first();
  await item.waitFor();
  const shown = await item.innerText();

  // The same content sent by another client: the server's message lists the violations as
  // `trellis validate` prints them (spec.Violation.String with the design name as file).
  const r = await save('bookinfo', invalid, 1);
  assert.equal(r.errors[0].extensions.code, 'INVALID_DESIGN');
  const cliLines = r.errors[0].message.split('\n').slice(1);
  assert.deepEqual([shown], cliLines);
  const v = r.errors[0].extensions.violations[0];
  assert.equal(v.path, 'spec.services[0].ports[0].port');
  assert.equal(shown, `bookinfo:${v.line}:${v.column}: spec.services[0].ports[0].port: port 99999 is out of range (expected a port number 1-65535)`);
  // The line number points at the edited line of the textarea's content.
  assert.match(invalid.split('\n')[v.line - 1], /port: 99999/);
  assert.equal(await item.getAttribute('data-line'), String(v.line));
  assert.deepEqual(await page.locator('.gutter .bad').allInnerTexts(), [String(v.line)]);
  // "Go to line" selects the offending line in the editor.
  await page.getByRole('button', { name: `Go to line ${v.line} (spec.services[0].ports[0].port)` }).click();
  const selected = await area.evaluate((el) => el.value.slice(el.selectionStart, el.selectionEnd));
  assert.match(selected, /port: 99999/);
  assert.equal((await head('bookinfo')).headRevision, 1, 'an invalid save must not write a revision');
  await shot(page, 'violation');
  await page.close();
});

test('a valid edit saves revision 2, shown in history and as a diff', async () => {
  const page = await signedInPage();
  await page.goto(`${base}/designs/bookinfo/edit`);
  const area = page.getByLabel(/Design YAML/);
  await page.getByRole('heading', { name: 'Edit (based on revision 1)' }).waitFor();
  const original = await area.inputValue();
  await area.fill(original.replace('team: books', 'team: bookstore'));
  await page.getByLabel('Change message').fill('rename the team label');
  await page.getByRole('button', { name: 'Save revision' }).click();
  await page.getByText('Saved revision 2.').waitFor();
  await page.getByRole('heading', { name: 'Edit (based on revision 2)' }).waitFor();
  assert.equal((await head('bookinfo')).headRevision, 2);

  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByRole('heading', { name: 'Revision 2 (head)' }).waitFor();
  const history = page.locator('ol.history li');
  assert.equal(await history.count(), 2);
  assert.match(await history.first().innerText(), /#2[\s\S]*admin[\s\S]*rename the team label/);

  await page.getByRole('link', { name: 'Changes from #1' }).click();
  await page.getByRole('heading', { name: 'Changes from revision 1 to revision 2' }).waitFor();
  const added = await page.locator('tr.diff-add td.text').allInnerTexts();
  const removed = await page.locator('tr.diff-del td.text').allInnerTexts();
  assert.deepEqual(added.map((s) => s.trim()), ['team: bookstore']);
  assert.deepEqual(removed.map((s) => s.trim()), ['team: books']);
  await shot(page, 'diff');
  await page.close();
});

test('saving against a stale revision reports a conflict, reload picks up the head; the list updates live', async () => {
  const editor = await signedInPage();
  const list = await signedInPage();
  await list.locator('[data-live=live]').waitFor();
  const row = list.locator('tr[data-design=bookinfo] [data-testid=revision]');
  assert.equal(await row.innerText(), '2');

  await editor.goto(`${base}/designs/bookinfo/edit`);
  await editor.getByRole('heading', { name: 'Edit (based on revision 2)' }).waitFor();
  await editor.locator('[data-live=live]').waitFor();
  // Both tabs' subscriptions are registered once a probe change reaches them.
  const probe = await head('external-api');
  const pr = await save('external-api', probe.head.content.replace('name: external-api', 'labels:\n    probe: live\n  name: external-api'), 1, 'probe');
  assert.ifError(pr.errors?.[0]?.message);
  for (const p of [editor, list]) {
    await p.getByTestId('announcer').filter({ hasText: 'external-api saved as revision 2' }).waitFor({ state: 'attached', timeout: 10000 });
  }
  await list.locator('tr[data-design=external-api] [data-testid=revision]', { hasText: /^2$/ }).waitFor();

  const area = editor.getByLabel(/Design YAML/);
  const mine = (await area.inputValue()).replace('team: bookstore', 'team: mine');
  await area.fill(mine);

  // Another client saves revision 3.
  const h = await head('bookinfo');
  const r = await save('bookinfo', h.head.content.replace('team: bookstore', 'team: theirs'), 2, 'concurrent change');
  assert.equal(r.data.saveDesign.revision.number, 3);

  // The other tab's list refreshes without a reload.
  await list.locator('tr[data-design=bookinfo] [data-testid=revision]', { hasText: /^3$/ }).waitFor({ timeout: 10000 });
  assert.match(await list.getByTestId('announcer').innerText(), /bookinfo saved as revision 3 by admin/);

  // The editor was told, and saving its stale edit reports a conflict.
  await editor.getByText('admin saved revision 3 while you were editing').waitFor();
  await editor.getByRole('button', { name: 'Save revision' }).click();
  const conflict = editor.locator('.conflict');
  await conflict.waitFor();
  assert.match(await conflict.innerText(), /Conflict: the design changed since you started editing/);
  assert.match(await conflict.innerText(), /You edited revision 2, but the latest revision is 3/);
  assert.equal((await head('bookinfo')).headRevision, 3);
  await shot(editor, 'conflict');

  await editor.getByRole('button', { name: 'Reload latest revision' }).click();
  await editor.getByRole('heading', { name: 'Edit (based on revision 3)' }).waitFor();
  assert.match(await area.inputValue(), /team: theirs/);
  await editor.close();
  await list.close();
});

test('the capability matrix shows features × meshes with support and notes', async () => {
  const page = await signedInPage();
  await page.getByRole('link', { name: 'Capabilities' }).click();
  await page.getByRole('heading', { name: 'Capability matrix' }).waitFor();
  const want = await gql('{ capabilities { meshes rows { feature meshes { mesh support note } } } }');
  const m = want.data.capabilities;
  const headers = await page.locator('table.matrix thead th').allInnerTexts();
  assert.deepEqual(headers.slice(1), m.meshes);
  assert.equal(await page.locator('table.matrix tbody tr').count(), m.rows.length);
  for (const r of m.rows.slice(0, 5)) {
    for (const c of r.meshes) {
      const cell = page.locator(`tr[data-feature="${r.feature}"] td[data-mesh="${c.mesh}"]`);
      assert.equal(await cell.getAttribute('data-support'), c.support, `${r.feature} on ${c.mesh}`);
      if (c.note) assert.match(await cell.innerText(), new RegExp(c.note.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    }
  }
  await shot(page, 'capabilities');
  await page.close();
});

test('translate preview shows manifests and warnings for the chosen mesh; policy findings are listed', async () => {
  const page = await signedInPage();
  await page.goto(`${base}/designs/bookinfo/translate`);
  const meshes = (await gql('{ capabilities { meshes } }')).data.capabilities.meshes;
  const mesh = meshes.includes('istio') ? 'istio' : meshes[0];
  await page.getByLabel('Mesh').selectOption(mesh);
  const manifests = page.getByLabel(`Manifests for ${mesh}`);
  await manifests.waitFor();
  const want = (await gql('query($m: String!) { translate(design: "bookinfo", mesh: $m) { manifests objectCount warnings { path } } }', { m: mesh })).data.translate;
  assert.equal((await manifests.innerText()).trim(), want.manifests.trim());
  assert.match(await page.getByRole('heading', { level: 3, name: /^Manifests/ }).innerText(), new RegExp(`\\(${want.objectCount} object`));
  const warnRows = await page.locator('table[aria-label="Translation warnings"] tbody tr').count();
  assert.equal(warnRows, want.warnings.length);
  await shot(page, 'translate');

  await page.getByRole('link', { name: 'Policy check' }).click();
  await page.getByRole('heading', { name: 'Policy findings for revision 3' }).waitFor();
  // Every mesh is checked by default.
  for (const m of meshes) assert.equal(await page.getByRole('checkbox', { name: m }).isChecked(), true);
  const check = (await gql('query($m: [String!]) { check(design: "bookinfo", meshes: $m) { meshes findings { rule suppressed } } }', { m: meshes })).data.check;
  assert.deepEqual(check.meshes, meshes);
  const active = check.findings.filter((f) => !f.suppressed);
  await page.locator('p.muted', { hasText: `Checked the design and the objects generated for ${meshes.join(', ')}` }).waitFor({ timeout: 60000 });
  if (active.length === 0) {
    await page.getByText('No findings.').waitFor();
  } else {
    const rules = await page.locator('table[aria-label="Policy findings"] tbody tr td:nth-child(2)').allInnerTexts();
    assert.deepEqual(rules, active.map((f) => f.rule));
  }
  await shot(page, 'check');
  // Unticking a mesh re-checks without it.
  await page.getByRole('checkbox', { name: meshes[0] }).uncheck();
  await page.waitForURL(/meshes=/);
  await page.locator('p.muted', { hasText: `objects generated for ${meshes.slice(1).join(', ')}.` }).waitFor({ timeout: 60000 });
  await page.close();
});

test('a viewer cannot save; a revoked token sends the user back to sign-in with an explanation', async () => {
  const created = await gql('mutation { createToken(name: "ui-viewer", role: VIEWER) { token } }');
  const viewer = created.data.createToken.token;
  const page = await browserContext.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('API token').fill(viewer);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('ui-viewer (viewer)').waitFor();
  await page.goto(`${base}/designs/external-api/edit`);
  const area = page.getByLabel(/Design YAML/);
  await area.fill((await area.inputValue()) + '\n');
  await page.getByRole('button', { name: 'Save revision' }).click();
  const alert = page.locator('#save-result [role=alert]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /^Not allowed: .*EDITOR/);

  const del = await gql('mutation { deleteToken(name: "ui-viewer") }');
  assert.equal(del.data.deleteToken, true);
  // The next request (opening the capability matrix) is refused with 401.
  await page.getByRole('link', { name: 'Capabilities' }).click();
  await page.getByRole('heading', { name: 'Sign in to Trellis' }).waitFor();
  assert.match(await page.getByRole('status').innerText(), /401 Unauthorized/);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('trellis.token')), null);
  await page.close();
});

test('the designs list pages through the connection', async () => {
  for (let i = 0; i < 20; i++) {
    const name = `page-${String(i).padStart(2, '0')}`;
    const content = `apiVersion: trellis.dev/v1alpha1\nkind: Design\nmetadata:\n  name: ${name}\nspec:\n  services:\n  - name: web\n    ports:\n    - port: 80\n`;
    const r = await save(name, content, 0, 'pagination');
    assert.ifError(r.errors?.[0]?.message);
  }
  const all = (await gql('{ designs(first: 100) { totalCount edges { node { name } } } }')).data.designs;
  assert.equal(all.totalCount, 24);
  const names = all.edges.map((e) => e.node.name);

  const page = await signedInPage();
  const rowNames = () => page.locator('table[aria-label="Designs"] tbody th').allInnerTexts();
  await page.getByText('24 designs').waitFor();
  assert.deepEqual(await rowNames(), names.slice(0, 20));
  assert.equal(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.waitForURL(/\?after=/);
  await page.locator('table[aria-label="Designs"] tbody th', { hasText: names[20] }).waitFor();
  assert.deepEqual(await rowNames(), names.slice(20));
  assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Previous page' }).click();
  await page.waitForURL(/\?before=/);
  await page.locator('table[aria-label="Designs"] tbody th', { hasText: names[0] }).waitFor();
  assert.deepEqual(await rowNames(), names.slice(0, 20));
  // Back returns to the second page.
  await page.goBack();
  await page.locator('table[aria-label="Designs"] tbody th', { hasText: names[20] }).waitFor();
  await page.close();
});

test('the history shows older revisions on request', async () => {
  // page-00 (from the pagination test) gets revisions 2..25.
  let content = (await head('page-00')).head.content;
  for (let rev = 1; rev < 25; rev++) {
    const next = content.replace(/port: \d+/, `port: ${8000 + rev}`);
    const r = await save('page-00', next, rev, `port ${8000 + rev}`);
    assert.equal(r.data?.saveDesign.revision.number, rev + 1, JSON.stringify(r.errors));
    content = next;
  }
  const page = await signedInPage();
  await page.goto(`${base}/designs/page-00`);
  await page.getByRole('heading', { name: 'Revision 25 (head)' }).waitFor();
  const items = page.locator('ol.history li');
  assert.equal(await items.count(), 20);
  await page.getByRole('button', { name: 'Show older revisions' }).click();
  await page.locator('ol.history li[data-revision="1"]').waitFor();
  const numbers = await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-revision'))));
  assert.deepEqual(numbers, Array.from({ length: 25 }, (_, i) => 25 - i));
  assert.equal(await page.getByRole('button', { name: 'Show older revisions' }).count(), 0);
  await page.close();
});

test('signing out forgets the token', async () => {
  const page = await signedInPage();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Trellis' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('trellis.token')), null);
  await page.close();
});
