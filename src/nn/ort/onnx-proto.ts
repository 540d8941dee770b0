/**
 * A minimal ONNX model encoder: just enough protobuf (ModelProto, GraphProto, NodeProto,
 * AttributeProto, ValueInfoProto) to describe small graphs of float tensors with symbolic
 * dimensions. Field numbers follow onnx/onnx.proto3.
 *
 * Why: onnxruntime has no training API, but a one-node (or few-node) graph per kernel makes
 * it a fast kernel library for our own autograd (MLAS GEMM, multithreaded).
 */

/**
 * Protobuf bytes as a list of chunks: small fields go into a growing byte list, large payloads
 * (an initializer's raw floats: megabytes) are kept as views and copied once, by `finish`.
 */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private bytes: number[] = [];
  private length = 0;

  private flush(): void {
    if (this.bytes.length === 0) return;
    this.parts.push(Uint8Array.from(this.bytes));
    this.bytes = [];
  }

  private push(b: number): void {
    this.bytes.push(b);
    this.length++;
  }

  /** Appends bytes without copying them (they are copied by `finish`). */
  private raw(data: Uint8Array): void {
    if (data.length < 64) {
      for (const x of data) this.push(x);
      return;
    }
    this.flush();
    this.parts.push(data);
    this.length += data.length;
  }

  varint(v: number): void {
    // Non-negative integers below 2^53 only (enough for ONNX attribute ints we use, which are small).
    if (v < 0) throw new Error('protobuf varint: negative values are not used by this encoder');
    while (v >= 0x80) {
      this.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.push(v);
  }

  /** int64 field that may be negative (two's complement, 10 bytes). */
  int64(v: number): void {
    if (v >= 0) return this.varint(v);
    let big = (1n << 64n) + BigInt(v);
    while (big >= 0x80n) {
      this.push(Number(big & 0x7fn) | 0x80);
      big >>= 7n;
    }
    this.push(Number(big));
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  intField(field: number, v: number): void {
    this.tag(field, 0);
    this.int64(v);
  }

  floatField(field: number, v: number): void {
    this.tag(field, 5);
    this.raw(new Uint8Array(new Float32Array([v]).buffer));
  }

  bytesField(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.raw(data);
  }

  stringField(field: number, s: string): void {
    this.bytesField(field, new TextEncoder().encode(s));
  }

  messageField(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    inner.flush();
    this.tag(field, 2);
    this.varint(inner.length);
    this.flush();
    this.parts.push(...inner.parts);
    this.length += inner.length;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** A dimension: a number, or a symbolic name (dynamic size). */
export type Dim = number | string;

/** A constant tensor attribute (for Constant nodes). */
export interface TensorAttr {
  tensor: { dtype: 'float' | 'int64'; dims: number[]; values: number[] };
}

export type AttrValue = number | number[] | { float: number } | string | TensorAttr;

export interface OnnxNode {
  op: string;
  /** Operator domain: '' (standard ONNX) or 'com.microsoft' (onnxruntime's contrib ops, e.g. FusedMatMul). */
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

export interface OnnxValue {
  name: string;
  shape: Dim[];
  /** ONNX TensorProto.DataType: 1 = float, 7 = int64, 9 = bool. Default float. */
  elemType?: number;
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /**
   * Constant float tensors (raw little-endian floats). onnxruntime packs constant weights for
   * its GEMMs once, at load, where a weight given as an input is packed again on every call.
   */
  initializers?: OnnxInitializer[];
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** The graph with the named inputs turned into initializers of these values (constants). */
export function withInitializers(graph: OnnxGraph, tensors: OnnxInitializer[]): OnnxGraph {
  const names = new Set(tensors.map((t) => t.name));
  for (const n of names) if (!graph.inputs.some((i) => i.name === n)) throw new Error(`graph ${graph.name} has no input "${n}"`);
  return { ...graph, inputs: graph.inputs.filter((i) => !names.has(i.name)), initializers: [...(graph.initializers ?? []), ...tensors] };
}

const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_INTS = 7;

function writeValueInfo(w: Writer, v: OnnxValue): void {
  w.stringField(1, v.name);
  w.messageField(2, (type) => {
    type.messageField(1, (tensor) => {
      tensor.intField(1, v.elemType ?? 1);
      tensor.messageField(2, (shape) => {
        for (const d of v.shape) {
          shape.messageField(1, (dim) => {
            if (typeof d === 'number') dim.intField(1, d);
            else dim.stringField(2, d);
          });
        }
      });
    });
  });
}

function writeAttr(w: Writer, name: string, value: AttrValue): void {
  w.stringField(1, name);
  if (typeof value === 'number') {
    w.intField(3, value);
    w.intField(20, ATTR_INT);
  } else if (typeof value === 'string') {
    w.bytesField(4, new TextEncoder().encode(value));
    w.intField(20, ATTR_STRING);
  } else if (typeof value === 'object' && 'tensor' in value) {
    const { dtype, dims, values } = value.tensor;
    w.messageField(5, (t) => {
      for (const d of dims) t.intField(1, d);
      t.intField(2, dtype === 'float' ? 1 : 7); // TensorProto.DataType
      const raw = dtype === 'float' ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
      t.bytesField(9, raw); // raw_data, little-endian
    });
    w.intField(20, ATTR_TENSOR);
  } else if (Array.isArray(value)) {
    for (const x of value) w.intField(8, x);
    w.intField(20, ATTR_INTS);
  } else {
    w.floatField(2, value.float);
    w.intField(20, ATTR_FLOAT);
  }
}

/** Encodes a graph as an ONNX ModelProto (IR version 8, default-domain opset 17). */
export function encodeModel(graph: OnnxGraph, opset = 17): Uint8Array {
  const w = new Writer();
  w.intField(1, 8); // ir_version
  w.stringField(2, 'searchlearn'); // producer_name
  w.messageField(7, (g) => {
    graph.nodes.forEach((n, i) => {
      g.messageField(1, (node) => {
        for (const x of n.inputs) node.stringField(1, x);
        for (const x of n.outputs) node.stringField(2, x);
        node.stringField(3, `${n.op}_${i}`);
        node.stringField(4, n.op);
        if (n.domain) node.stringField(7, n.domain);
        for (const [k, v] of Object.entries(n.attrs ?? {})) node.messageField(5, (a) => writeAttr(a, k, v));
      });
    });
    g.stringField(2, graph.name);
    for (const t of graph.initializers ?? []) {
      g.messageField(5, (x) => {
        for (const d of t.dims) x.intField(1, d);
        x.intField(2, 1); // float
        x.stringField(8, t.name);
        x.bytesField(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)); // raw_data
      });
    }
    for (const v of graph.inputs) g.messageField(11, (x) => writeValueInfo(x, v));
    for (const v of graph.outputs) g.messageField(12, (x) => writeValueInfo(x, v));
  });
  w.messageField(8, (o) => {
    o.stringField(1, '');
    o.intField(2, opset);
  });
  if (graph.nodes.some((n) => n.domain === 'com.microsoft')) {
    w.messageField(8, (o) => {
      o.stringField(1, 'com.microsoft');
      o.intField(2, 1);
    });
  }
  return w.finish();
}
