import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import fastJson from 'fast-json-stringify';
import { z } from 'zod';

/**
 * Fastify serializer compiler for zod response schemas: each schema is converted once to JSON
 * Schema (`z.toJSONSchema`, output side) and compiled with fast-json-stringify, the serializer
 * Fastify itself uses. Compared with validating every response through zod and then calling
 * JSON.stringify, this writes known shapes directly and drops properties the schema does not
 * declare, just as zod's default strip would. Request validation stays with zod.
 */
export const zodResponseSerializerCompiler: FastifySerializerCompiler<z.ZodType | { properties: z.ZodType }> = ({ schema }) => {
  const zodSchema = schema instanceof z.ZodType ? schema : schema.properties;
  const jsonSchema = z.toJSONSchema(zodSchema, { target: 'draft-7', io: 'output', unrepresentable: 'any', reused: 'inline', cycles: 'ref' });
  return fastJson(jsonSchema as Parameters<typeof fastJson>[0]);
};

/**
 * The same serializer for use outside a route's reply (e.g. to cache a response body once):
 * returns a function that writes a value of `schema`'s output type as JSON.
 */
export function compileResponseSerializer(schema: z.ZodType): (value: unknown) => string {
  return zodResponseSerializerCompiler({ schema, method: 'GET', url: '', httpStatus: '200' }) as (value: unknown) => string;
}
