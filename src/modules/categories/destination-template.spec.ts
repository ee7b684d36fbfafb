import { numberedAlternative, renderTemplate, templateProblem } from './destination-template.js';

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
