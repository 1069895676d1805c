/**
 * A Python unpickler (protocols 0–5) that builds plain data and never runs anything: classes
 * become {@linkcode _PyGlobal} references and calls become inert {@linkcode _PyObject}s, except
 * the few builtins that `torch.save` relies on (OrderedDict, `_codecs.encode`, sets) and what the
 * caller's `reduce` hook claims. Any malformed input throws `UserError`; the loop always
 * advances, so it cannot hang.
 *
 * @module
 */

import { UserError } from "../util/errors.ts";

/**
 * A reference to a Python class or function (`GLOBAL module name`).
 *
 * @example
 * ```ts
 * import { _PyGlobal } from "./pickle.ts";
 * console.log(new _PyGlobal("collections", "OrderedDict").qualname); // "collections.OrderedDict"
 * ```
 */
export class _PyGlobal {
  /** @param module Python module path. @param name Attribute name in it. */
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`. */
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A Python dict or OrderedDict: keys in insertion order; `state` holds what BUILD set (an
 * OrderedDict's attributes, such as a state dict's `_metadata`).
 *
 * @example
 * ```ts
 * import { _PyDict } from "./pickle.ts";
 * const d = new _PyDict();
 * d.items.set("a", 1);
 * console.log(d.items.get("a")); // 1
 * ```
 */
export class _PyDict {
  /** The entries, in insertion order. */
  readonly items: Map<unknown, unknown> = new Map();
  /** BUILD state, if any. */
  state: unknown = undefined;
}

/**
 * An instance of a class we do not interpret: its class, constructor arguments, and whatever
 * BUILD, APPEND or SETITEM added (for list and dict subclasses).
 *
 * @example
 * ```ts
 * import { _PyGlobal, _PyObject } from "./pickle.ts";
 * const o = new _PyObject(new _PyGlobal("argparse", "Namespace"), []);
 * console.log(o.cls.name); // "Namespace"
 * ```
 */
export class _PyObject {
  /** BUILD state (usually the instance `__dict__`). */
  state: unknown = undefined;
  /** Items appended (list subclasses). */
  readonly list: unknown[] = [];
  /** Items set (dict subclasses). */
  readonly dict: Map<unknown, unknown> = new Map();
  /** @param cls The class. @param args What it was called with. */
  constructor(readonly cls: _PyGlobal, readonly args: unknown[]) {}
}

/**
 * What the caller supplies for the parts of a pickle that are format-specific.
 *
 * @example
 * ```ts
 * import type { _UnpickleHooks } from "./pickle.ts";
 * const hooks: _UnpickleHooks = {
 *   persistentLoad: (pid) => ({ storage: pid }),
 *   reduce: (cls, args) => cls.name === "Size" ? args[0] : undefined,
 * };
 * console.log(typeof hooks.reduce); // "function"
 * ```
 */
export interface _UnpickleHooks {
  /** Resolve a persistent id (BINPERSID/PERSID); without it persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Interpret a call `cls(*args)`; return `undefined` to fall back to the default. */
  reduce?: (cls: _PyGlobal, args: unknown[]) => unknown;
}

/**
 * Decode one pickle. Python values map to: None → null, bool → boolean, int → number (bigint
 * beyond 2^53), float → number, str → string, bytes → Uint8Array, tuple/list → array,
 * dict → {@linkcode _PyDict}, set → Set, anything else → {@linkcode _PyObject}.
 *
 * @example
 * ```ts
 * import { _unpickle } from "./pickle.ts";
 * // pickle.dumps((1, "a"), protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x4b, 1, 0x58, 1, 0, 0, 0, 0x61, 0x86, 0x71, 0, 0x2e]);
 * console.log(_unpickle(bytes)); // [ 1, "a" ]
 * ```
 */
export function _unpickle(bytes: Uint8Array, hooks: _UnpickleHooks = {}): unknown {
  return new Unpickler(bytes, hooks).run();
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

class Unpickler {
  #b: Uint8Array;
  #v: DataView;
  #p = 0;
  #stack: unknown[] = [];
  #marks: number[] = [];
  #memo = new Map<number, unknown>();
  #hooks: _UnpickleHooks;

  constructor(bytes: Uint8Array, hooks: _UnpickleHooks) {
    this.#b = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#hooks = hooks;
  }

  run(): unknown {
    for (;;) {
      const at = this.#p;
      const op = this.#u8();
      if (op === 0x2e) return this.#pop(); // STOP
      try {
        this.#step(op);
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw this.#fail(`${(e as Error).message} (opcode 0x${op.toString(16)})`, at);
      }
    }
  }

  #step(op: number): void {
    const s = this.#stack;
    switch (op) {
      case 0x80: { // PROTO
        const v = this.#u8();
        if (v > 5) throw this.#fail(`unsupported protocol ${v}`);
        return;
      }
      case 0x95: // FRAME: framing only groups opcodes, we read straight through
        this.#take(8);
        return;
      case 0x28: // MARK
        this.#marks.push(s.length);
        return;
      case 0x30: // POP
        if (this.#marks.length && this.#marks[this.#marks.length - 1] === s.length) {
          this.#marks.pop();
        } else this.#pop();
        return;
      case 0x31: // POP_MARK
        this.#popMark();
        return;
      case 0x32: // DUP
        s.push(this.#top());
        return;
      case 0x4e: // NONE
        s.push(null);
        return;
      case 0x88: // NEWTRUE
        s.push(true);
        return;
      case 0x89: // NEWFALSE
        s.push(false);
        return;
      case 0x4a: // BININT
        s.push(this.#v.getInt32(this.#take(4), true));
        return;
      case 0x4b: // BININT1
        s.push(this.#u8());
        return;
      case 0x4d: // BININT2
        s.push(this.#v.getUint16(this.#take(2), true));
        return;
      case 0x8a: // LONG1
        s.push(this.#long(this.#u8()));
        return;
      case 0x8b: // LONG4
        s.push(this.#long(this.#len(this.#v.getInt32(this.#take(4), true))));
        return;
      case 0x47: // BINFLOAT (big-endian)
        s.push(this.#v.getFloat64(this.#take(8), false));
        return;
      case 0x49: { // INT (protocol 0; "00"/"01" are False/True)
        const line = this.#line();
        s.push(line === "00" ? false : line === "01" ? true : this.#int(line));
        return;
      }
      case 0x4c: // LONG (protocol 0)
        s.push(this.#int(this.#line().replace(/L$/, "")));
        return;
      case 0x46: { // FLOAT (protocol 0)
        const line = this.#line(), x = Number(line);
        if (Number.isNaN(x) && !/nan/i.test(line)) throw this.#fail(`bad float ${line}`);
        s.push(x);
        return;
      }
      case 0x58: // BINUNICODE
        s.push(utf8.decode(this.#bytes(this.#v.getUint32(this.#take(4), true))));
        return;
      case 0x8c: // SHORT_BINUNICODE
        s.push(utf8.decode(this.#bytes(this.#u8())));
        return;
      case 0x8d: // BINUNICODE8
        s.push(utf8.decode(this.#bytes(this.#u64())));
        return;
      case 0x56: // UNICODE (raw-unicode-escape line)
        s.push(
          this.#line().replace(
            /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
            (_m, a, b) => String.fromCodePoint(parseInt(a ?? b, 16)),
          ),
        );
        return;
      case 0x53: // STRING (protocol 0, a Python 2 str repr)
        s.push(unquote(this.#line()));
        return;
      case 0x54: // BINSTRING
        s.push(latin1.decode(this.#bytes(this.#len(this.#v.getInt32(this.#take(4), true)))));
        return;
      case 0x55: // SHORT_BINSTRING
        s.push(latin1.decode(this.#bytes(this.#u8())));
        return;
      case 0x42: // BINBYTES
        s.push(this.#bytes(this.#v.getUint32(this.#take(4), true)).slice());
        return;
      case 0x43: // SHORT_BINBYTES
        s.push(this.#bytes(this.#u8()).slice());
        return;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        s.push(this.#bytes(this.#u64()).slice());
        return;
      case 0x98: // READONLY_BUFFER
        return;
      case 0x29: // EMPTY_TUPLE
        s.push([]);
        return;
      case 0x85: // TUPLE1
        s.push([this.#pop()]);
        return;
      case 0x86: { // TUPLE2
        const b = this.#pop(), a = this.#pop();
        s.push([a, b]);
        return;
      }
      case 0x87: { // TUPLE3
        const c = this.#pop(), b = this.#pop(), a = this.#pop();
        s.push([a, b, c]);
        return;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        s.push(this.#popMark());
        return;
      case 0x5d: // EMPTY_LIST
        s.push([]);
        return;
      case 0x7d: // EMPTY_DICT
        s.push(new _PyDict());
        return;
      case 0x64: { // DICT
        const d = new _PyDict();
        setPairs(d.items, this.#popMark());
        s.push(d);
        return;
      }
      case 0x8f: // EMPTY_SET
        s.push(new Set());
        return;
      case 0x91: // FROZENSET
        s.push(new Set(this.#popMark()));
        return;
      case 0x90: { // ADDITEMS
        const items = this.#popMark(), set = this.#top();
        if (!(set instanceof Set)) throw this.#fail("ADDITEMS on a non-set");
        for (const x of items) set.add(x);
        return;
      }
      case 0x61: // APPEND
        this.#append([this.#pop()]);
        return;
      case 0x65: // APPENDS
        this.#append(this.#popMark());
        return;
      case 0x73: { // SETITEM
        const v = this.#pop(), k = this.#pop();
        this.#setItems([k, v]);
        return;
      }
      case 0x75: // SETITEMS
        this.#setItems(this.#popMark());
        return;
      case 0x70: // PUT
        this.#memo.set(this.#index(this.#line()), this.#top());
        return;
      case 0x71: // BINPUT
        this.#memo.set(this.#u8(), this.#top());
        return;
      case 0x72: // LONG_BINPUT
        this.#memo.set(this.#v.getUint32(this.#take(4), true), this.#top());
        return;
      case 0x94: // MEMOIZE
        this.#memo.set(this.#memo.size, this.#top());
        return;
      case 0x67: // GET
        s.push(this.#get(this.#index(this.#line())));
        return;
      case 0x68: // BINGET
        s.push(this.#get(this.#u8()));
        return;
      case 0x6a: // LONG_BINGET
        s.push(this.#get(this.#v.getUint32(this.#take(4), true)));
        return;
      case 0x63: { // GLOBAL
        const module = this.#line();
        s.push(new _PyGlobal(module, this.#line()));
        return;
      }
      case 0x93: { // STACK_GLOBAL
        const name = this.#pop(), module = this.#pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw this.#fail("STACK_GLOBAL needs two strings");
        }
        s.push(new _PyGlobal(module, name));
        return;
      }
      case 0x52: // REDUCE
      case 0x81: { // NEWOBJ
        const args = this.#pop(), cls = this.#pop();
        s.push(this.#call(cls, args));
        return;
      }
      case 0x92: { // NEWOBJ_EX (keyword arguments are dropped: nothing we interpret takes any)
        this.#pop();
        const args = this.#pop(), cls = this.#pop();
        s.push(this.#call(cls, args));
        return;
      }
      case 0x69: { // INST
        const module = this.#line(), name = this.#line();
        s.push(this.#call(new _PyGlobal(module, name), this.#popMark()));
        return;
      }
      case 0x6f: { // OBJ
        const [cls, ...args] = this.#popMark();
        s.push(this.#call(cls, args));
        return;
      }
      case 0x62: { // BUILD
        const state = this.#pop(), obj = this.#top();
        if (obj instanceof _PyDict || obj instanceof _PyObject) obj.state = state;
        return;
      }
      case 0x51: // BINPERSID
        s.push(this.#persistent(this.#pop()));
        return;
      case 0x50: // PERSID
        s.push(this.#persistent(this.#line()));
        return;
      default:
        throw this.#fail(`unsupported opcode 0x${op.toString(16)}`);
    }
  }

  #call(cls: unknown, args: unknown): unknown {
    if (!(cls instanceof _PyGlobal)) throw this.#fail("call of something that is not a class");
    if (!Array.isArray(args)) throw this.#fail(`arguments of ${cls.qualname} are not a tuple`);
    const hooked = this.#hooks.reduce?.(cls, args);
    if (hooked !== undefined) return hooked;
    switch (cls.qualname) {
      case "collections.OrderedDict":
      case "builtins.dict":
      case "__builtin__.dict": {
        const d = new _PyDict();
        const src = args[0];
        if (src instanceof _PyDict) { for (const [k, v] of src.items) d.items.set(k, v); }
        else if (Array.isArray(src)) {
          for (const pair of src) {
            if (!Array.isArray(pair) || pair.length !== 2) throw this.#fail("bad dict item");
            d.items.set(pair[0], pair[1]);
          }
        }
        return d;
      }
      case "builtins.set":
      case "builtins.frozenset":
      case "__builtin__.set":
      case "__builtin__.frozenset":
        return new Set(Array.isArray(args[0]) ? args[0] : []);
      case "builtins.list":
      case "builtins.tuple":
        return Array.isArray(args[0]) ? [...args[0]] : [];
      case "builtins.bytearray":
      case "builtins.bytes":
        return args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0);
      case "_codecs.encode": // protocol 2 spells bytes as encode(latin-1 str, "latin1")
        if (typeof args[0] === "string") {
          return /^utf-?8$/i.test(String(args[1]))
            ? new TextEncoder().encode(args[0])
            : Uint8Array.from(args[0], (c) => c.charCodeAt(0) & 0xff);
        }
        break;
      case "copy_reg._reconstructor":
      case "copyreg._reconstructor":
        if (args[0] instanceof _PyGlobal) return new _PyObject(args[0], []);
        break;
    }
    return new _PyObject(cls, args);
  }

  #persistent(pid: unknown): unknown {
    if (!this.#hooks.persistentLoad) throw this.#fail("unexpected persistent id");
    return this.#hooks.persistentLoad(pid);
  }

  #append(items: unknown[]): void {
    const t = this.#top();
    if (Array.isArray(t)) t.push(...items);
    else if (t instanceof _PyObject) t.list.push(...items);
    else throw this.#fail("APPEND to a non-list");
  }

  #setItems(kv: unknown[]): void {
    const t = this.#top();
    if (t instanceof _PyDict) setPairs(t.items, kv);
    else if (t instanceof _PyObject) setPairs(t.dict, kv);
    else throw this.#fail("SETITEM on a non-dict");
  }

  #get(i: number): unknown {
    if (!this.#memo.has(i)) throw this.#fail(`memo entry ${i} is not defined`);
    return this.#memo.get(i);
  }

  #top(): unknown {
    const s = this.#stack;
    if (s.length === 0 || this.#marks[this.#marks.length - 1] === s.length) {
      throw this.#fail("stack underflow");
    }
    return s[s.length - 1];
  }

  #pop(): unknown {
    this.#top();
    return this.#stack.pop();
  }

  #popMark(): unknown[] {
    const m = this.#marks.pop();
    if (m === undefined) throw this.#fail("no MARK on the stack");
    return this.#stack.splice(m);
  }

  #u8(): number {
    return this.#b[this.#take(1)];
  }

  #u64(): number {
    const x = this.#v.getBigUint64(this.#take(8), true);
    return this.#len(x > BigInt(this.#b.length) ? -1 : Number(x));
  }

  #len(n: number): number {
    if (n < 0 || n > this.#b.length - this.#p) throw this.#truncated();
    return n;
  }

  /** Advance by n bytes, returning where they start; throws when the data ends first. */
  #take(n: number): number {
    const at = this.#p;
    if (at + n > this.#b.length) throw this.#truncated();
    this.#p = at + n;
    return at;
  }

  #bytes(n: number): Uint8Array {
    const at = this.#take(n);
    return this.#b.subarray(at, at + n);
  }

  #line(): string {
    const end = this.#b.indexOf(0x0a, this.#p);
    if (end < 0) throw this.#truncated();
    const text = latin1.decode(this.#b.subarray(this.#p, end));
    this.#p = end + 1;
    return text.replace(/\r$/, "");
  }

  #long(n: number): number | bigint {
    const b = this.#bytes(n);
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
    if (n > 0 && b[n - 1] & 0x80) x -= 1n << BigInt(8 * n);
    return toNumber(x);
  }

  #int(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text)) throw this.#fail(`bad integer ${JSON.stringify(text)}`);
    return toNumber(BigInt(text));
  }

  #index(text: string): number {
    const x = this.#int(text);
    if (typeof x !== "number" || x < 0) throw this.#fail(`bad memo index ${text}`);
    return x;
  }

  #truncated(): UserError {
    return new UserError(`Pickle data is truncated (${this.#b.length} bytes)`);
  }

  #fail(why: string, at = this.#p): UserError {
    return new UserError(`Corrupt pickle data at byte ${at}: ${why}`);
  }
}

function setPairs(m: Map<unknown, unknown>, kv: unknown[]): void {
  if (kv.length % 2) throw new UserError("Corrupt pickle data: odd number of dict items");
  for (let i = 0; i < kv.length; i += 2) m.set(kv[i], kv[i + 1]);
}

function toNumber(x: bigint): number | bigint {
  return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(x)
    : x;
}

/** Undo a Python 2 str repr: quotes plus the escapes repr emits. */
function unquote(s: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) {
    throw new UserError(`Corrupt pickle data: bad STRING ${JSON.stringify(s)}`);
  }
  const esc: Record<string, string> = { n: "\n", r: "\r", t: "\t", "\\": "\\", "'": "'", '"': '"' };
  return s.slice(1, -1).replace(
    /\\(x[0-9a-fA-F]{2}|.)/g,
    (_m, e: string) => e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) : esc[e] ?? e,
  );
}
