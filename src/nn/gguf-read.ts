/**
 * A small GGUF v3 reader (the inverse of gguf.ts), for tests and for checking exported files:
 * metadata as plain values, tensors as Float32Array in PyTorch shape order. F32 tensors only.
 */
import { readFileSync } from 'node:fs';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgmlType, GgufType } from './gguf.js';

export type GgufReadValue = number | bigint | boolean | string | GgufReadValue[];

export interface GgufRead {
  version: number;
  metadata: Map<string, GgufReadValue>;
  /** Each tensor with its PyTorch-order shape ([out, in]) and data. */
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

const TYPE_NAMES = Object.fromEntries(Object.entries(GgufType).map(([k, v]) => [v, k])) as Record<number, keyof typeof GgufType>;

export function readGguf(path: string): GgufRead {
  const buf = readFileSync(path);
  let o = 0;
  const fail = (what: string): never => {
    throw new Error(`GGUF ${path}: ${what} (at byte ${o})`);
  };
  const need = (n: number): void => {
    if (o + n > buf.length) fail('truncated');
  };
  const u32 = (): number => (need(4), (o += 4), buf.readUInt32LE(o - 4));
  const u64 = (): number => {
    need(8);
    const v = buf.readBigUInt64LE(o);
    o += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} too large`);
    return Number(v);
  };
  const str = (): string => {
    const n = u64();
    need(n);
    o += n;
    return buf.toString('utf8', o - n, o);
  };
  const scalar = (type: number): GgufReadValue => {
    const name = TYPE_NAMES[type];
    switch (name) {
      case 'u8': need(1); return buf.readUInt8((o += 1) - 1);
      case 'i8': need(1); return buf.readInt8((o += 1) - 1);
      case 'u16': need(2); return buf.readUInt16LE((o += 2) - 2);
      case 'i16': need(2); return buf.readInt16LE((o += 2) - 2);
      case 'u32': return u32();
      case 'i32': need(4); return buf.readInt32LE((o += 4) - 4);
      case 'f32': need(4); return buf.readFloatLE((o += 4) - 4);
      case 'bool': need(1); return buf.readUInt8((o += 1) - 1) !== 0;
      case 'u64': need(8); return buf.readBigUInt64LE((o += 8) - 8);
      case 'i64': need(8); return buf.readBigInt64LE((o += 8) - 8);
      case 'f64': need(8); return buf.readDoubleLE((o += 8) - 8);
      case 'string': return str();
      case 'array': {
        const itemType = u32();
        const n = u64();
        const out: GgufReadValue[] = [];
        for (let i = 0; i < n; i++) out.push(scalar(itemType));
        return out;
      }
      default: return fail(`unknown value type ${type}`);
    }
  };

  need(4);
  if (buf.toString('latin1', 0, 4) !== GGUF_MAGIC) fail('not a GGUF file (bad magic)');
  o = 4;
  const version = u32();
  if (version !== 3) fail(`version ${version}, only 3 is read`);
  const nTensors = u64();
  const nKv = u64();
  const metadata = new Map<string, GgufReadValue>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    metadata.set(key, scalar(u32()));
  }
  const infos: { name: string; shape: number[]; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nDims = u32();
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(u64());
    const type = u32();
    if (type !== GgmlType.F32) fail(`tensor "${name}" has ggml type ${type}; this reader handles F32 only`);
    infos.push({ name, shape: ne.reverse(), offset: u64() });
  }
  const alignment = Number(metadata.get('general.alignment') ?? GGUF_DEFAULT_ALIGNMENT);
  const dataStart = Math.ceil(o / alignment) * alignment;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of infos) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const start = dataStart + t.offset;
    if (start + size * 4 > buf.length) fail(`tensor "${t.name}" runs past the end of the file`);
    // Copy: the file buffer's offset need not be 4-byte aligned for a Float32Array view.
    const data = new Float32Array(size);
    Buffer.from(data.buffer).set(buf.subarray(start, start + size * 4));
    tensors.set(t.name, { shape: t.shape, data });
  }
  return { version, metadata, tensors };
}
