import { z } from '@hono/zod-openapi';

/**
 * Names a schema as an OpenAPI component (`#/components/schemas/<id>`), whatever module made it.
 *
 * @hono/zod-openapi adds `.openapi()` to zod's `ZodType.prototype` when it loads, and zod 4 copies
 * prototype members onto each schema when the schema is constructed. A schema built before that
 * (every contracts/ schema, when contracts/ loads first, as it does from the CLI) has no `.openapi`
 * of its own. Calling the prototype's method works for any schema, so the import order no longer matters.
 */
export function named<S extends z.ZodType>(id: string, schema: S): S {
  const openapi = z.ZodType.prototype.openapi as (this: S, refId: string) => S;
  return openapi.call(schema, id);
}
