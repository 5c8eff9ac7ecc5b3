import { describe, expect, it } from 'vitest';
import { formatPosition, formatViolation, violationsFrom } from './violations';

describe('formatViolation', () => {
  // The expected strings are what spec.Violation.String prints for the same fields (see
  // spec/violation.go), i.e. `trellis validate` output with the design name as the file.
  it('prints position, path, message, expected and hint like the CLI', () => {
    expect(
      formatViolation(
        { path: 'spec.services[0].ports[0].port', message: 'port 99999 is out of range', expected: 'a port number 1-65535', hint: 'use a valid port', line: 51, column: 13 },
        'bookinfo',
      ),
    ).toBe('bookinfo:51:13: spec.services[0].ports[0].port: port 99999 is out of range (expected a port number 1-65535; hint: use a valid port)');
  });

  it('omits what is unknown', () => {
    expect(formatViolation({ path: 'spec.traffic[0].service', message: 'unknown service "x"', hint: 'declare it in spec.services' }, 'd')).toBe(
      'spec.traffic[0].service: unknown service "x" (hint: declare it in spec.services)',
    );
    expect(formatViolation({ path: '', message: 'content holds 2 designs', expected: 'exactly one design' }, 'd')).toBe('content holds 2 designs (expected exactly one design)');
    expect(formatViolation({ path: 'metadata.name', message: 'required', line: 4 }, 'd')).toBe('d:4: metadata.name: required');
    expect(formatViolation({ path: 'a', message: 'm', expected: null, hint: '', line: null }, 'd')).toBe('a: m');
  });

  it('formats positions like spec.Position.String', () => {
    expect(formatPosition('f', 0, 3)).toBe('f');
    expect(formatPosition('f', 2)).toBe('f:2');
    expect(formatPosition('f', 2, 7)).toBe('f:2:7');
  });
});

describe('violationsFrom', () => {
  it('reads extensions.violations', () => {
    const vs = violationsFrom({
      code: 'INVALID_DESIGN',
      violations: [
        { path: 'spec.x', message: 'bad', line: 3, column: 5, expected: 'good' },
        { path: 'spec.y', message: 'worse', hint: 'fix it' },
      ],
    });
    expect(vs).toEqual([
      { path: 'spec.x', message: 'bad', line: 3, column: 5, expected: 'good', hint: undefined },
      { path: 'spec.y', message: 'worse', hint: 'fix it', expected: undefined, line: undefined, column: undefined },
    ]);
  });

  it('ignores malformed entries and missing extensions', () => {
    expect(violationsFrom(undefined)).toEqual([]);
    expect(violationsFrom({ violations: 'nope' })).toEqual([]);
    expect(violationsFrom({ violations: [null, 3, { message: 'only a message', line: '7' }] })).toEqual([
      { path: '', message: 'only a message', expected: undefined, hint: undefined, line: undefined, column: undefined },
    ]);
  });
});
