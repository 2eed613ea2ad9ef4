import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { AuthEnv } from '../auth.ts';
import { ERROR_RESPONSES, validationHook } from '../errors.ts';

/** One sub-app per resource, mounted by createApp with `app.route()`; all validate through one hook. */
export function resourceApp(): OpenAPIHono<AuthEnv> {
  return new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
}

export const Id = z.string().min(1).max(128).openapi({ example: 'vrd_3f2a9c' });
export const IdParam = z.object({ id: Id });

/** A JSON response documented with its schema, plus the shared error responses. */
export function jsonResponses<S extends z.ZodType>(description: string, schema: S) {
  return { 200: { description, content: { 'application/json': { schema } } }, ...ERROR_RESPONSES } as const;
}
