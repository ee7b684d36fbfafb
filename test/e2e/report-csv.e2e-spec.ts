import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { DataSource } from 'typeorm';
import { OperationsQueriesService } from '../../src/modules/operations/operations-queries.service.js';
import { organize, userFolder, writeTree } from '../utils/operations.js';
import { createTestApp, signUp } from '../utils/test-app.js';
import type { SignedUpUser, TestApp } from '../utils/test-app.js';

/** RFC 4180: rows of cells (quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += c;
  }
  return rows;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GET /api/v1/operations/:id/report as CSV', () => {
  let t: TestApp;
  let user: SignedUpUser;

  beforeAll(async () => {
    t = await createTestApp();
    user = await signUp(t);
  });
  afterAll(async () => {
    await t.close();
  });

  const csv = (id: string) =>
    t
      .http()
      .get(`/api/v1/operations/${id}/report`)
      .set('Authorization', `Bearer ${user.accessToken}`)
      .set('Accept', 'text/csv')
      .expect(200);

  it('neutralises formula cells (=, +, -, @, tab, CR) and escapes quotes and line breaks', async () => {
    const root = '=HYPERLINK("http:x")';
    writeTree(userFolder(t, user), {
      [`${root}/-2+3.txt`]: 'a',
      [`${root}/@SUM(A1).txt`]: 'b',
      [`${root}/say "hi",\r\nthen.txt`]: 'c',
    });
    const operation = await organize(t, user, { rootPath: root });
    expect(operation.status).toBe('completed');
    const rows = parseCsv((await csv(operation.id)).text);
    expect(rows[0]).toEqual([
      'id',
      'sourcePath',
      'destinationPath',
      'category',
      'matchedBy',
      'size',
      'hash',
      'status',
      'error',
    ]);
    const records = rows.slice(1);
    expect(records).toHaveLength(3);
    for (const record of records) {
      expect(record).toHaveLength(9);
      // Every path begins with the formula-looking folder: each is prefixed with ' and otherwise intact.
      for (const cell of [record[1], record[2]]) {
        expect(cell.startsWith(`'${root}/`)).toBe(true);
      }
      expect(record[7]).toBe('moved');
    }
    expect(records.map((record) => record[1]).sort()).toEqual(
      [`'${root}/-2+3.txt`, `'${root}/@SUM(A1).txt`, `'${root}/say "hi",\r\nthen.txt`].sort(),
    );
    // No cell at all begins with a character a spreadsheet evaluates.
    for (const cell of rows.flat()) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('streams with backpressure: a client that stops reading stops the database reads', async () => {
    writeTree(userFolder(t, user), { 'big/one.txt': 'x' });
    const operation = await organize(t, user, { rootPath: 'big' });
    const rows = 30_000;
    // Long paths (3 KB a row): the report is ~90 MB, far more than socket buffers can hold.
    const long = 'x'.repeat(1500);
    await t.app.get(DataSource).query(
      `INSERT INTO file_records (operation_id, seq, source_path, destination_path, category, matched_by, size, mtime_ms, status)
       SELECT $1, 1000 + g, 'big/' || $2 || g, 'big/Other/' || $2 || g, 'Other', 'extension', g, 0, 'moved'
       FROM generate_series(1, $3::int) AS g`,
      [operation.id, long, rows],
    );
    // Counts the batches the report has read from the database.
    const service = t.app.get(OperationsQueriesService);
    const original = service.allFiles;
    let batchesRead = 0;
    service.allFiles = async function* (...args) {
      for await (const batch of original.apply(service, args)) {
        batchesRead += 1;
        yield batch;
      }
    };
    try {
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        http
          .get(
            `${t.url}/api/v1/operations/${operation.id}/report`,
            { headers: { Authorization: `Bearer ${user.accessToken}`, Accept: 'text/csv' } },
            resolve,
          )
          .on('error', reject);
      });
      expect(response.statusCode).toBe(200);
      // The client reads nothing: wait until the server stops reading batches (or reads them all).
      response.pause();
      let seen = -1;
      for (let waited = 0; waited < 20_000 && seen !== batchesRead; waited += 1000) {
        seen = batchesRead;
        await sleep(1000);
      }
      const whilePaused = batchesRead;
      const rss = process.memoryUsage().rss;
      console.log(
        `batches read while the client was paused: ${whilePaused} of ${rows / 1000 + 1}, RSS ${(rss / 2 ** 20).toFixed(0)} MiB`,
      );
      // 31 batches of 1,000 rows in all; socket buffers and the stream's own hold a handful.
      expect(whilePaused).toBeLessThan(10);
      // Reading again gets the whole report.
      let lines = 0;
      let tail = '';
      response.setEncoding('utf8');
      for await (const chunk of response) {
        const text = tail + (chunk as string);
        const parts = text.split('\r\n');
        tail = parts.pop() ?? '';
        lines += parts.length;
      }
      expect(lines).toBe(1 + 1 + rows);
      expect(batchesRead).toBeGreaterThan(whilePaused);
    } finally {
      service.allFiles = original;
    }
  }, 120_000);
});
