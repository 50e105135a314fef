import { describe, expect, it } from 'vitest';
import { globToRegExp } from '../../src/core/glob.ts';

describe('globToRegExp', () => {
  it('compiles globs with a hyphen (a syntax error under the u flag when escaped)', () => {
    expect(globToRegExp('#team-*').test('#team-eng')).toBe(true);
    expect(globToRegExp('#team-*').test('#teameng')).toBe(false);
    expect(globToRegExp('DE4450010517*').test('DE44500105170000112233')).toBe(true);
  });

  it('matches other special characters literally', () => {
    expect(globToRegExp('a.b+c(d)[e]{f}|g^h$/i\\j').test('a.b+c(d)[e]{f}|g^h$/i\\j')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});
