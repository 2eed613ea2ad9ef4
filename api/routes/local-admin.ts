import { createRoute } from '@hono/zod-openapi';
import type { Db } from '../../db/index.ts';
import { ERROR_RESPONSES, apiError } from '../errors.ts';
import { LOCAL_KEY_HEADER, LocalTokenReply, LocalTokenRequest, localKeyMatches } from '../local-admin.ts';
import { named } from '../openapi.ts';
import { createApiToken } from '../tokens.ts';
import { resourceApp } from './shared.ts';

/** POST /local/tokens: token creation for local processes while this server owns the embedded database. */
export function localAdminRoutes(db: Db, localKey: string) {
  const app = resourceApp();
  app.openAPIRegistry.registerComponent('securitySchemes', 'localKey', { type: 'apiKey', in: 'header', name: LOCAL_KEY_HEADER });
  return app.openapi(
    createRoute({
      method: 'post',
      path: '/tokens',
      summary: 'Create an API token (for `quorum token create` on this machine while the server owns the embedded database)',
      security: [{ localKey: [] }],
      request: { body: { required: true, content: { 'application/json': { schema: named('LocalTokenRequest', LocalTokenRequest) } } } },
      responses: {
        200: { description: 'The token, shown once', content: { 'application/json': { schema: named('LocalToken', LocalTokenReply) } } },
        400: ERROR_RESPONSES[400],
        401: ERROR_RESPONSES[401],
      },
    }),
    async (c) => {
      if (!localKeyMatches(localKey, c.req.header(LOCAL_KEY_HEADER))) {
        throw apiError(401, 'UNAUTHORIZED', `missing or wrong ${LOCAL_KEY_HEADER} (see serve.json in the data directory)`);
      }
      const { scope, name } = c.req.valid('json');
      return c.json(await createApiToken(db, name, scope), 200);
    },
  );
}
