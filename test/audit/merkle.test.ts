import { hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_ROOT, leafHash, MerkleFrontier, nodeHash } from '../../src/audit/merkle.ts';

const rawLeaf = (hex: string) => hash('sha256', Buffer.concat([Buffer.from([0]), Buffer.from(hex, 'hex')]), 'hex');

/** RFC 6962 section 2.1 MTH, written the recursive way: the obviously-correct reference. */
function reference(leaves: readonly string[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0] as string;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(reference(leaves.slice(0, k)), reference(leaves.slice(k)));
}

describe('merkle', () => {
  it('matches the RFC 6962 test vectors of certificate-transparency', () => {
    const inputs = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
    const roots = [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
      'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
      '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
      'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
      '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
    ];
    const frontier = new MerkleFrontier();
    expect(frontier.root()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    inputs.forEach((input, i) => {
      frontier.push(rawLeaf(input));
      expect(frontier.root()).toBe(roots[i]);
    });
  });

  it('leaf and node hashes are domain-separated', () => {
    const a = leafHash('x');
    expect(a).not.toBe(hash('sha256', 'x', 'hex'));
    expect(a).toBe(hash('sha256', '\0x', 'hex'));
    const raw = Buffer.from(a, 'hex');
    expect(nodeHash(a, a)).toBe(hash('sha256', Buffer.concat([Buffer.from([1]), raw, raw]), 'hex'));
    expect(nodeHash(a, a)).not.toBe(hash('sha256', Buffer.concat([raw, raw]), 'hex'));
  });

  it('the frontier agrees with the reference at every size, and survives serialization', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 70 }), fc.nat(), (texts, cut) => {
        const leaves = texts.map(leafHash);
        let frontier = new MerkleFrontier();
        const stop = leaves.length === 0 ? 0 : cut % (leaves.length + 1);
        leaves.forEach((leaf, i) => {
          if (i === stop) frontier = MerkleFrontier.deserialize(frontier.size, frontier.serialize());
          frontier.push(leaf);
          expect(frontier.root()).toBe(reference(leaves.slice(0, i + 1)));
        });
        expect(frontier.size).toBe(leaves.length);
      }),
      { numRuns: 200 },
    );
  });

  it('a frontier of the wrong shape is refused', () => {
    expect(() => MerkleFrontier.deserialize(3, Buffer.alloc(32))).toThrow(/size 3 has 2 nodes/);
    expect(() => MerkleFrontier.deserialize(1, Buffer.alloc(31))).toThrow(/not whole hashes/);
  });
});
