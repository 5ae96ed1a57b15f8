/**
 * Shared by the proto facts script and test: turns descriptors (from protoc or from the
 * generated code) into a plain, comparable description of names, numbers and types.
 * @module
 */
import {
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescService,
  ScalarType,
} from "@bufbuild/protobuf";

/** One field as the wire sees it. */
export interface FieldFact {
  number: number;
  /** Scalar type name (`uint64`, `bytes`) or the full name of a message/enum type. */
  type: string;
  /** `repeated`, `map<K,V>` or `single`. */
  label: string;
  /** The oneof the field belongs to, if any. */
  oneof?: string;
}

/** Names, numbers and types of the types and services of a set of proto files. */
export interface ProtoFacts {
  messages: Record<string, Record<string, FieldFact>>;
  enums: Record<string, Record<string, number>>;
  services: Record<string, Record<string, { input: string; output: string; kind: string }>>;
}

function scalarName(t: ScalarType): string {
  return ScalarType[t].toLowerCase();
}

function fieldFact(f: DescField): FieldFact {
  let type: string;
  let label = "single";
  switch (f.fieldKind) {
    case "scalar":
      type = scalarName(f.scalar);
      break;
    case "enum":
      type = f.enum.typeName;
      break;
    case "message":
      type = f.message.typeName;
      break;
    case "list":
      label = "repeated";
      type = f.listKind === "scalar"
        ? scalarName(f.scalar)
        : f.listKind === "enum"
        ? f.enum.typeName
        : f.message.typeName;
      break;
    case "map": {
      const v = f.mapKind === "scalar"
        ? scalarName(f.scalar)
        : f.mapKind === "enum"
        ? f.enum.typeName
        : f.message.typeName;
      label = "map";
      type = `map<${scalarName(f.mapKey)},${v}>`;
      break;
    }
  }
  return { number: f.number, type, label, ...(f.oneof ? { oneof: f.oneof.name } : {}) };
}

function addMessage(out: ProtoFacts, m: DescMessage): void {
  const fields: Record<string, FieldFact> = {};
  for (const f of m.fields) fields[f.name] = fieldFact(f);
  out.messages[m.typeName] = fields;
  for (const n of m.nestedMessages) addMessage(out, n);
  for (const e of m.nestedEnums) addEnum(out, e);
}

function addEnum(out: ProtoFacts, e: DescEnum): void {
  const values: Record<string, number> = {};
  for (const v of e.values) values[v.name] = v.number;
  out.enums[e.typeName] = values;
}

function addService(out: ProtoFacts, s: DescService): void {
  const methods: Record<string, { input: string; output: string; kind: string }> = {};
  for (const m of s.methods) {
    methods[m.name] = { input: m.input.typeName, output: m.output.typeName, kind: m.methodKind };
  }
  out.services[s.typeName] = methods;
}

/** Describes every message (nested too), enum and service of `files`. */
export function describeFiles(files: Iterable<DescFile>): ProtoFacts {
  const out: ProtoFacts = { messages: {}, enums: {}, services: {} };
  for (const file of files) {
    for (const m of file.messages) addMessage(out, m);
    for (const e of file.enums) addEnum(out, e);
    for (const s of file.services) addService(out, s);
  }
  return out;
}
