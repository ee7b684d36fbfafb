import { PassThrough } from 'node:stream';
import { prettyLine, prettyStream } from './pretty-stream.js';

describe('prettyLine', () => {
  const line = (entry: Record<string, unknown>) =>
    JSON.stringify({
      level: 30,
      time: '2026-12-06T20:01:02.345Z',
      service: 'fileorganizer',
      role: 'all',
      pid: 1,
      ...entry,
    });

  it('shows time, level, context, message and the other fields', () => {
    expect(prettyLine(line({ context: 'Bootstrap', msg: 'listening', operationId: 'abc', n: 2 }))).toBe(
      '20:01:02 INFO  [Bootstrap] listening operationId=abc n=2',
    );
    expect(prettyLine(line({ level: 50, msg: 'failed', stack: 'Error: x\n    at y' }))).toBe(
      '20:01:02 ERROR failed\nError: x\n    at y',
    );
  });

  it("leaves out Nest's per-module start-up lines unless asked, but never their warnings", () => {
    expect(prettyLine(line({ context: 'InstanceLoader', msg: 'AuthModule dependencies initialized' }))).toBeNull();
    expect(prettyLine(line({ context: 'RouterExplorer', msg: 'Mapped {/x, GET}' }), true)).toContain('Mapped');
    expect(prettyLine(line({ level: 40, context: 'InstanceLoader', msg: 'odd' }))).toContain('WARN');
    expect(prettyLine(line({ level: 'warn', context: 'InstanceLoader', msg: 'odd' }))).toContain(
      'WARN  [InstanceLoader] odd',
    );
    expect(prettyLine(line({ level: 'info', context: 'InstanceLoader', msg: 'x' }))).toBeNull();
  });

  it('passes a line that is not JSON through', () => {
    expect(prettyLine('plain text')).toBe('plain text');
  });
});

describe('prettyStream', () => {
  it('formats whole lines, also when they arrive in pieces', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const stream = prettyStream(out, false);
    const json = JSON.stringify({ level: 30, time: '2026-12-06T20:01:02.345Z', msg: 'hello' });
    stream.write(`${json.slice(0, 10)}`);
    stream.write(`${json.slice(10)}\n${json}\n`);
    await new Promise((resolve) => stream.end(resolve));
    expect(text).toBe('20:01:02 INFO  hello\n20:01:02 INFO  hello\n');
  });
});
