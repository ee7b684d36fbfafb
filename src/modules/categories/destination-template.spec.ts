import path from 'node:path';
import { numberedAlternative, renderTemplate, templateProblem } from './destination-template.js';
import type { TemplateInput } from './destination-template.js';

describe('destination templates', () => {
  const mtimeMs = Date.UTC(2024, 0, 9, 23, 59, 0);

  it('fills every placeholder, with zero-padded UTC date parts', () => {
    expect(
      renderTemplate('{category}/{year}-{month}-{day}/{name}.{ext}/{filename}', {
        category: 'Images',
        fileName: 'cat.photo.JPG',
        mtimeMs,
      }),
    ).toBe('Images/2024-01-09/cat.photo.JPG/cat.photo.JPG');
  });

  it('never lets a placeholder value add a segment or climb out', () => {
    expect(renderTemplate('{category}/{filename}', { category: '../..', fileName: 'a/b\\c', mtimeMs })).toBe(
      '.._/a_b_c',
    );
    expect(renderTemplate('{category}/{filename}', { category: '..', fileName: '.', mtimeMs })).toBe('__/_');
  });

  it('refuses templates that are absolute, climb, use unknown placeholders or name no file', () => {
    expect(templateProblem('/{filename}')).toMatch(/relative/);
    expect(templateProblem('../{filename}')).toMatch(/\.\./);
    expect(templateProblem('{category}/{nope}')).toMatch(/unknown placeholder/);
    expect(templateProblem('{category}')).toMatch(/\{filename\} or \{name\}/);
    expect(templateProblem('{category}/{filename')).toMatch(/unbalanced/);
    expect(templateProblem('{category}/{filename}')).toBeNull();
    expect(templateProblem('.fileorganizer-tmp-{filename}')).toMatch(/reserved/);
    expect(templateProblem('{category}/.FileOrganizer/{filename}')).toMatch(/reserved/);
    expect(templateProblem('{category}/.file{name}')).toBeNull();
  });

  it('numbers alternatives as "name (n).ext"', () => {
    expect(numberedAlternative('a/b/photo.jpg', 1)).toBe('a/b/photo (1).jpg');
    expect(numberedAlternative('README', 2)).toBe('README (2)');
    expect(numberedAlternative('.bashrc', 1)).toBe('.bashrc (1)');
  });
});

/** renderTemplate as it was before it computed only the placeholders a template has (the reference). */
function referenceRender(template: string, input: TemplateInput): string {
  const splitName = (fileName: string): { name: string; ext: string } => {
    const dot = fileName.lastIndexOf('.');
    if (dot <= 0) return { name: fileName, ext: '' };
    return { name: fileName.slice(0, dot), ext: fileName.slice(dot + 1) };
  };
  const dateParts = (ms: number): { year: string; month: string; day: string } => {
    const date = new Date(ms);
    return {
      year: String(date.getUTCFullYear()).padStart(4, '0'),
      month: String(date.getUTCMonth() + 1).padStart(2, '0'),
      day: String(date.getUTCDate()).padStart(2, '0'),
    };
  };
  const safe = (value: string): string => {
    // eslint-disable-next-line no-control-regex -- as the original
    const cleaned = value.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
    return cleaned === '.' || cleaned === '..' ? cleaned.replace(/\./g, '_') : cleaned;
  };
  const { name, ext } = splitName(input.fileName);
  const modified = dateParts(input.mtimeMs);
  const created = dateParts(input.createdMs ?? input.mtimeMs);
  const taken = dateParts(input.exif?.takenMs ?? input.mtimeMs);
  const parentPath = input.sourcePath ? path.posix.dirname(input.sourcePath) : '.';
  const values: Record<string, string> = {
    category: input.category,
    filename: input.fileName,
    name,
    ext,
    year: modified.year,
    month: modified.month,
    day: modified.day,
    parent: parentPath === '.' ? '' : path.posix.basename(parentPath),
    hash8: (input.hash ?? '').slice(0, 8),
    'created.year': created.year,
    'created.month': created.month,
    'created.day': created.day,
    'exif.year': taken.year,
    'exif.month': taken.month,
    'exif.day': taken.day,
    'exif.make': input.exif?.make ?? 'unknown',
    'exif.model': input.exif?.model ?? 'unknown',
  };
  const rendered = template.replace(/\{([^{}]*)\}/g, (_whole, key: string) => {
    const value = key.startsWith('match.') ? (input.match?.[key.slice('match.'.length)] ?? '') : values[key];
    return safe(value ?? '');
  });
  const segments = rendered
    .split('/')
    .map((segment) => (segment.endsWith('.') && segment !== '.' ? segment.replace(/\.+$/, '') : segment))
    .filter((segment) => segment.length > 0)
    .map((segment) => (segment === '.' || segment === '..' ? '_' : segment));
  return path.posix.join(...(segments.length ? segments : ['_']));
}

describe('renderTemplate against its reference', () => {
  const templates = [
    '{category}/{filename}',
    '{filename}',
    '{category}/{year}/{month}/{day}/{filename}',
    '{category}/{year}-{month}-{day}/{name}.{ext}',
    '{parent}/{name}.{ext}',
    '{parent}{category}/{name}.{ext}',
    'x/{created.year}/{created.month}-{created.day}/{exif.year}.{exif.month}.{exif.day}/{exif.make}/{exif.model}/{filename}',
    '{hash8}/{name}',
    '{match.kind}/{match.year}/{filename}',
    '{category}.{ext}/{name}.',
    'a{ext}./{name}',
    '{ext}/{ext}/{filename}',
  ];
  const names = [
    'photo.jpg',
    'f0000001.bin',
    'README',
    '.bashrc',
    'archive.tar.gz',
    'trailing.',
    'dots...',
    '.',
    '..',
    '...',
    'a..b',
    'x.',
    'back\\slash.txt',
    'new\nline.txt',
    'ünïcødé ✓.pdf',
    ' spaced name .md',
    'a/b.c',
  ];
  const categories = ['Images', 'Other', '..', '.', 'a/b', '', 'Trailing.', '.fileorganizer-x'];
  const inputs: TemplateInput[] = [];
  for (const fileName of names) {
    for (const category of categories) {
      inputs.push({ category, fileName, mtimeMs: Date.UTC(2024, 1, 29, 12) });
      inputs.push({
        category,
        fileName,
        mtimeMs: -1,
        sourcePath: `inbox/${category}./x/${fileName}`,
        createdMs: Date.UTC(1999, 11, 31, 23, 59),
        exif: { takenMs: Date.UTC(2010, 5, 1), make: 'Cam.', model: '..' },
        hash: 'abcdef0123456789',
        match: { kind: '..', year: '' },
      });
      inputs.push({ category, fileName, mtimeMs: 0, sourcePath: fileName, exif: null, match: { kind: 'k/j.' } });
    }
  }

  it('renders every template and input as the reference does', () => {
    const differences: unknown[] = [];
    let compared = 0;
    for (const template of templates) {
      for (const input of inputs) {
        const rendered = renderTemplate(template, input);
        const expected = referenceRender(template, input);
        if (rendered !== expected) differences.push({ template, input, rendered, expected });
        compared += 1;
      }
    }
    expect(differences).toEqual([]);
    expect(compared).toBe(templates.length * names.length * categories.length * 3);
  });
});
