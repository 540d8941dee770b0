import { describe, expect, it } from 'vitest';
import { withInitializers, type OnnxGraph } from './onnx-proto.js';
import { OrtSession } from './session.js';

const addGraph: OnnxGraph = {
  name: 'add',
  nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
  inputs: [
    { name: 'x', shape: ['N'] },
    { name: 'w', shape: ['N'] },
  ],
  outputs: [{ name: 'y', shape: ['N'] }],
};

describe('ONNX initializers', () => {
  it('a large constant (written as a chunk, not byte by byte) gives what the same values fed as an input give', () => {
    const n = 100_003;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: n }, (_, i) => Math.cos(3 * i) * 1e3);
    const fed = new Float32Array(n);
    new OrtSession(addGraph, 1).run({ x: [x, [n]], w: [w, [n]] }, { y: [fed, [n]] });
    // The constant is a view into a larger buffer: only its own bytes are written.
    const big = new Float32Array(n + 8);
    big.set(w, 5);
    const s = new OrtSession(withInitializers(addGraph, [{ name: 'w', dims: [n], data: big.subarray(5, 5 + n) }]), 1);
    const got = new Float32Array(n);
    s.run({ x: [x, [n]] }, { y: [got, [n]] });
    s.dispose();
    expect(Array.from(got)).toEqual(Array.from(fed));
    expect(got[n - 1]).toBeCloseTo(x[n - 1]! + w[n - 1]!, 2);
  });

  it('names only inputs the graph has', () => {
    expect(() => withInitializers(addGraph, [{ name: 'v', dims: [1], data: new Float32Array(1) }])).toThrow('graph add has no input "v"');
  });
});
