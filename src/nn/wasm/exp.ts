import type { Code } from './wasm-builder.js';

/**
 * exp on four lanes of the v128 local `x`, leaving the result on the stack (WebAssembly has no
 * exp instruction): Cephes expf (Moshier 1992): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a
 * degree-6 polynomial, 2^n built in the exponent bits. Relative error about 1e-7; inputs are
 * clamped to [-87.3, 88.4] (the float32 range: e^-87.3 ≈ 1.2e-38, e^88.4 ≈ 3.4e38).
 * Overwrites `x` and uses the v128 local `fx`.
 */
export function emitExp(c: Code): void {
  c.get('x').f32x4(88.3762626647949).v('f32x4.pmin').f32x4(-87.3365478515625).v('f32x4.pmax').set('x');
  c.get('x').f32x4(Math.LOG2E).v('f32x4.mul').v('f32x4.nearest').set('fx');
  c.get('x').get('fx').f32x4(0.693359375).v('f32x4.mul').v('f32x4.sub');
  c.get('fx').f32x4(-2.12194440e-4).v('f32x4.mul').v('f32x4.sub').set('x');
  c.f32x4(1.9875691500e-4);
  for (const k of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) {
    c.get('x').v('f32x4.mul').f32x4(k).v('f32x4.add');
  }
  // y·x² + x + 1
  c.get('x').get('x').v('f32x4.mul').v('f32x4.mul').get('x').v('f32x4.add').f32x4(1).v('f32x4.add');
  // · 2^n: the float fx + 2^23 + 127 holds n + 127 in its low mantissa bits (n is a whole number
  // in [-126, 128] after the clamp, so the sum is exact); shifted left by 23 they become the
  // exponent field and the 2^23's own exponent bits leave the word.
  c.get('fx').f32x4(8388608 + 127).v('f32x4.add').i32(23).v('i32x4.shl');
  c.v('f32x4.mul');
}
