/**
 * A tiny WebAssembly binary builder: just enough of the format (WebAssembly Core Specification
 * 2.0, §5 "Binary Format", plus the 128-bit SIMD proposal merged into it) to emit hand-written
 * kernels from TypeScript without an npm toolchain. One module: an imported memory and
 * exported functions whose bodies are written instruction by instruction with `Code`.
 *
 * Only 128-bit SIMD: Node 20 runs it by default; relaxed SIMD is behind a flag.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const valTypeByte: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function f32Bytes(x: number): number[] {
  return [...new Uint8Array(Float32Array.of(x).buffer)];
}

/** SIMD opcodes (prefix 0xfd), from the SIMD proposal's opcode table. */
const simd = {
  'v128.load': 0x00,
  'v128.store': 0x0b,
  'v128.const': 0x0c,
  'i8x16.shuffle': 0x0d,
  'f32x4.splat': 0x13,
  'f64x2.splat': 0x14,
  'f32x4.demote_f64x2_zero': 0x5e,
  'f64x2.promote_low_f32x4': 0x5f,
  'f32x4.extract_lane': 0x1f,
  'f32x4.gt': 0x44,
  'v128.and': 0x4e,
  'f32x4.nearest': 0x6a,
  'i32x4.shl': 0xab,
  'i32x4.add': 0xae,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f32x4.div': 0xe7,
  'f32x4.min': 0xe8,
  'f32x4.max': 0xe9,
  'f32x4.pmin': 0xea,
  'f32x4.pmax': 0xeb,
  'f32x4.sqrt': 0xe3,
  'f64x2.sqrt': 0xef,
  'f64x2.add': 0xf0,
  'f64x2.sub': 0xf1,
  'f64x2.mul': 0xf2,
  'f64x2.div': 0xf3,
  'i32x4.trunc_sat_f32x4_s': 0xf8,
} as const;

/** Plain opcodes without immediates. */
const plain = {
  'i32.eqz': 0x45,
  'i32.lt_s': 0x48,
  'i32.gt_s': 0x4a,
  'i32.ge_s': 0x4e,
  'f32.eq': 0x5b,
  'f32.ne': 0x5c,
  'f32.gt': 0x5e,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.mul': 0x6c,
  'i32.shl': 0x74,
  'f32.sqrt': 0x91,
  'f32.add': 0x92,
  'f32.sub': 0x93,
  'f32.mul': 0x94,
  'f32.div': 0x95,
  'f32.max': 0x97,
  drop: 0x1a,
  return: 0x0f,
} as const;

/** A function body: locals by name, instructions appended in order. */
export class Code {
  readonly bytes: number[] = [];
  private readonly locals = new Map<string, number>();
  private readonly extra: ValType[] = [];

  private readonly nParams: number;

  constructor(params: [string, ValType][]) {
    params.forEach(([name], i) => this.locals.set(name, i));
    this.nParams = params.length;
  }

  /** Declares a local (beyond the parameters). */
  local(name: string, type: ValType): this {
    if (this.locals.has(name)) throw new Error(`local ${name} declared twice`);
    this.locals.set(name, this.nParams + this.extra.length);
    this.extra.push(type);
    return this;
  }

  private idx(name: string): number {
    const i = this.locals.get(name);
    if (i === undefined) throw new Error(`unknown local ${name}`);
    return i;
  }

  get(name: string): this {
    this.bytes.push(0x20, ...uleb(this.idx(name)));
    return this;
  }
  set(name: string): this {
    this.bytes.push(0x21, ...uleb(this.idx(name)));
    return this;
  }
  tee(name: string): this {
    this.bytes.push(0x22, ...uleb(this.idx(name)));
    return this;
  }
  i32(v: number): this {
    this.bytes.push(0x41, ...sleb(v));
    return this;
  }
  f32(v: number): this {
    this.bytes.push(0x43, ...f32Bytes(v));
    return this;
  }
  op(name: keyof typeof plain): this {
    this.bytes.push(plain[name]);
    return this;
  }
  /** i32.load / f32.load / i32.store / f32.store with a static byte offset (alignment 4). */
  mem(kind: 'i32.load' | 'f32.load' | 'i32.store' | 'f32.store', offset = 0): this {
    const code = { 'i32.load': 0x28, 'f32.load': 0x2a, 'i32.store': 0x36, 'f32.store': 0x38 }[kind];
    this.bytes.push(code, 2, ...uleb(offset));
    return this;
  }
  /** v128.load / v128.store (alignment hint 16 bytes; unaligned addresses still work). */
  vmem(kind: 'v128.load' | 'v128.store', offset = 0): this {
    this.bytes.push(0xfd, ...uleb(simd[kind]), 4, ...uleb(offset));
    return this;
  }
  v(name: Exclude<keyof typeof simd, 'v128.load' | 'v128.store' | 'v128.const' | 'i8x16.shuffle' | 'f32x4.extract_lane'>): this {
    this.bytes.push(0xfd, ...uleb(simd[name]));
    return this;
  }
  /** v128.const holding four equal f32 lanes. */
  f32x4(x: number): this {
    const b = f32Bytes(x);
    this.bytes.push(0xfd, ...uleb(simd['v128.const']), ...b, ...b, ...b, ...b);
    return this;
  }
  /** v128.const holding four equal i32 lanes. */
  i32x4(x: number): this {
    const b = [...new Uint8Array(Int32Array.of(x).buffer)];
    this.bytes.push(0xfd, ...uleb(simd['v128.const']), ...b, ...b, ...b, ...b);
    return this;
  }
  /** i8x16.shuffle of the two v128s on the stack: byte i of the result is byte `lanes[i]` of a‖b (0–31). */
  shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw new Error(`i8x16.shuffle takes 16 lane indices in 0–31, got ${lanes.join(',')}`);
    this.bytes.push(0xfd, ...uleb(simd['i8x16.shuffle']), ...lanes);
    return this;
  }
  lane(i: number): this {
    this.bytes.push(0xfd, ...uleb(simd['f32x4.extract_lane']), i);
    return this;
  }
  block(): this {
    this.bytes.push(0x02, 0x40);
    return this;
  }
  loop(): this {
    this.bytes.push(0x03, 0x40);
    return this;
  }
  end(): this {
    this.bytes.push(0x0b);
    return this;
  }
  br(depth: number): this {
    this.bytes.push(0x0c, ...uleb(depth));
    return this;
  }
  brIf(depth: number): this {
    this.bytes.push(0x0d, ...uleb(depth));
    return this;
  }

  /** local `name` += `by` (an i32 counter or byte pointer). */
  inc(name: string, by: number): this {
    return this.get(name).i32(by).op('i32.add').set(name);
  }

  /**
   * `for (; cond; ) { body }` as block/loop: `cond` pushes an i32 (nonzero continues); `body`
   * may use depth 1 to break and depth 0 to continue only through `step`, so it is given as a callback.
   */
  whileLoop(cond: (c: this) => void, body: (c: this) => void): this {
    this.block().loop();
    cond(this);
    this.op('i32.eqz').brIf(1);
    body(this);
    this.br(0).end().end();
    return this;
  }

  /** Encoded body: locals then instructions. */
  encode(): number[] {
    const groups: [number, ValType][] = [];
    for (const t of this.extra) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    const body = [...uleb(groups.length), ...groups.flatMap(([n, t]) => [...uleb(n), valTypeByte[t]]), ...this.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * Runs `lanes(at)` over the 16-byte groups from the first pointer of `ptrs` up to the local
 * `end`, two groups a turn (at 0 and 16) while two remain, then one; every pointer advances with
 * it. Two independent groups a turn let the CPU overlap their dependency chains.
 */
export function unrolled(c: Code, end: string, lanes: (at: number) => void, ptrs: readonly string[]): void {
  const p = ptrs[0]!;
  c.whileLoop((cc) => void cc.get(p).i32(16).op('i32.add').get(end).op('i32.lt_s'), () => {
    lanes(0);
    lanes(16);
    for (const q of ptrs) c.inc(q, 32);
  });
  c.whileLoop((cc) => void cc.get(p).get(end).op('i32.lt_s'), () => {
    lanes(0);
    for (const q of ptrs) c.inc(q, 16);
  });
}

/** A `whileLoop` condition: local a < local b (signed i32). */
export function lt(a: string, b: string): (c: Code) => void {
  return (c) => void c.get(a).get(b).op('i32.lt_s');
}

export interface FunctionDef {
  name: string;
  params: [string, ValType][];
  code: Code;
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/** A module importing `env.memory` (min 1 page, no maximum) and exporting `fns` (no results). */
export function buildModule(fns: FunctionDef[]): Uint8Array<ArrayBuffer> {
  const types = fns.flatMap((f) => [0x60, ...uleb(f.params.length), ...f.params.map(([, t]) => valTypeByte[t]), 0]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [...uleb(fns.length), ...types]),
    ...section(2, [...uleb(1), ...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]),
    ...section(3, [...uleb(fns.length), ...fns.flatMap((_, i) => uleb(i))]),
    ...section(7, [...uleb(fns.length), ...fns.flatMap((f, i) => [...name(f.name), 0x00, ...uleb(i)])]),
    ...section(10, [...uleb(fns.length), ...fns.flatMap((f) => f.code.encode())]),
  ];
  return new Uint8Array(bytes);
}
