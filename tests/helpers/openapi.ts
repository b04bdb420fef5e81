/**
 * Checks JSON answers against the schemas of `docs/openapi.yaml`: the subset
 * of OpenAPI 3.0 the file uses (`$ref`, `type`, `nullable`, `required`,
 * `properties`, `items`, `enum`, `additionalProperties`).
 *
 * @example
 * ```ts ignore
 * import { loadOpenApi } from "./openapi.ts";
 * const spec = await loadOpenApi();
 * const errors = spec.check("/api/v1/monitors", "get", 200, await res.json());
 * ```
 *
 * @module
 */
import { parse } from "yaml";

type Schema = {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  additionalProperties?: Schema | boolean;
};

interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, Schema>; responses: Record<string, unknown> };
}

/** The parsed file and a checker of answers against it. */
export interface OpenApi {
  doc: Doc;
  /** Every mismatch between `body` and the documented answer (empty when it matches). */
  check(path: string, method: string, status: number, body: unknown): string[];
}

/** Reads `docs/openapi.yaml` from the repository. */
export async function loadOpenApi(): Promise<OpenApi> {
  const doc = parse(
    await Deno.readTextFile(new URL("../../docs/openapi.yaml", import.meta.url)),
  ) as Doc;
  const deref = <T>(x: T & { $ref?: string }): T => {
    if (!x.$ref) return x;
    const [, , kind, name] = x.$ref.split("/");
    return deref((doc.components as unknown as Record<string, Record<string, T>>)[kind!]![name!]!);
  };
  const validate = (schema: Schema, v: unknown, at: string, out: string[]) => {
    schema = deref(schema);
    if (v === null) {
      if (!schema.nullable && schema.type) out.push(`${at}: null is not allowed`);
      return;
    }
    if (schema.enum && !schema.enum.includes(v)) out.push(`${at}: ${v} is not in ${schema.enum}`);
    switch (schema.type) {
      case "object": {
        if (typeof v !== "object" || Array.isArray(v)) return void out.push(`${at}: not an object`);
        const o = v as Record<string, unknown>;
        for (const k of schema.required ?? []) if (!(k in o)) out.push(`${at}.${k}: missing`);
        for (const [k, val] of Object.entries(o)) {
          const p = schema.properties?.[k] ??
            (typeof schema.additionalProperties === "object"
              ? schema.additionalProperties
              : undefined);
          if (p) validate(p, val, `${at}.${k}`, out);
        }
        return;
      }
      case "array":
        if (!Array.isArray(v)) return void out.push(`${at}: not an array`);
        v.forEach((x, i) => schema.items && validate(schema.items, x, `${at}[${i}]`, out));
        return;
      case "integer":
        if (!Number.isInteger(v)) out.push(`${at}: ${v} is not an integer`);
        return;
      case "number":
        if (typeof v !== "number") out.push(`${at}: ${v} is not a number`);
        return;
      case "string":
        if (typeof v !== "string") out.push(`${at}: ${JSON.stringify(v)} is not a string`);
        return;
      case "boolean":
        if (typeof v !== "boolean") out.push(`${at}: ${JSON.stringify(v)} is not a boolean`);
        return;
    }
  };
  return {
    doc,
    check(path, method, status, body) {
      const op = doc.paths[path]?.[method];
      if (!op) return [`${method.toUpperCase()} ${path} is not documented`];
      const res = op.responses[String(status)] as
        | { $ref?: string; content?: Record<string, { schema: Schema }> }
        | undefined;
      if (!res) return [`${method.toUpperCase()} ${path} does not document status ${status}`];
      const schema = deref(res).content?.["application/json"]?.schema;
      if (!schema) return [`${method.toUpperCase()} ${path} ${status} has no JSON schema`];
      const out: string[] = [];
      validate(schema, body, "$", out);
      return out;
    },
  };
}
