import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LocalUserStorage } from './local-user-storage.js';
import { PathRuleError } from './user-path.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString();
}

describe('LocalUserStorage.openRead', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fo-local-read-'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('reads a file whole or by range, and refuses links, folders and paths outside', async () => {
    fs.mkdirSync(path.join(root, 'd'));
    fs.writeFileSync(path.join(root, 'd/data.bin'), 'hello, disk');
    fs.symlinkSync('data.bin', path.join(root, 'd/link.bin'));
    const storage = await LocalUserStorage.open(root);
    expect(await text(await storage.openRead('d/data.bin'))).toBe('hello, disk');
    expect(await text(await storage.openRead('d/data.bin', { start: 7, end: 10 }))).toBe('disk');
    await expect(storage.openRead('d/link.bin')).rejects.toMatchObject({ code: 'ELOOP' });
    await expect(storage.openRead('d')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(storage.openRead('../etc/passwd')).rejects.toThrow(PathRuleError);
    await expect(storage.openRead('d/missing.bin')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
