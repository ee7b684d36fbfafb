import { destinationProblem, RESERVED_PREFIX } from '../../storage/user-path.js';
import { cannotHaveDestinationProblem } from './organize.runner.js';

describe('cannotHaveDestinationProblem', () => {
  const long = (n: number): string => 'x'.repeat(n);
  const destinations = [
    'tree/Images/f0000001.jpg',
    'a',
    'Images/.hidden',
    '.hidden/x',
    'Images/x.',
    `tree/${RESERVED_PREFIX}/x`,
    `tree/${RESERVED_PREFIX.toUpperCase()}-x/y`,
    `tree\\${RESERVED_PREFIX}`,
    `tree/${RESERVED_PREFIX.normalize('NFD')}\u0301x`,
    'tree/ünïcødé.txt',
    'tree/ＦＵＬＬ/x',
    long(85),
    long(86),
    `a/${long(255)}`,
    `a/${long(256)}`,
    `${'é'.repeat(128)}/x`,
    `${long(200)}/${long(200)}/${long(200)}/${long(200)}/${long(200)}/${long(200)}`,
    'a//b',
    '',
  ];

  it('is true only where destinationProblem finds nothing, and true for the usual destination', () => {
    for (const destination of destinations) {
      if (cannotHaveDestinationProblem(destination))
        expect([destination, destinationProblem(destination)]).toEqual([destination, null]);
    }
    expect(destinations.filter(cannotHaveDestinationProblem)).toEqual([
      'tree/Images/f0000001.jpg',
      'a',
      'Images/x.',
      long(85),
      'a//b',
      '',
    ]);
    // And destinationProblem does find something in some of the others (the cases are not all fine).
    expect(destinations.filter((d) => destinationProblem(d) !== null).length).toBeGreaterThan(5);
  });
});
