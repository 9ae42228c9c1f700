// A client of Portcullis written against the types openapi-typescript generates from
// openapi3.json: log in, refresh, read /me. `tsc --noEmit` must accept it, so a change to the
// document that would break such a client fails the check (scripts/typescript-check.sh).
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema";

export type AuthUser = components["schemas"]["AuthUser"];
/** What a program branches on when a call fails with 401. */
export type Unauthorized = components["schemas"]["Error401"]["slug"];

export async function signIn(
  baseUrl: string,
  username: string,
  password: string,
): Promise<AuthUser> {
  const api = createClient<paths>({ baseUrl });

  const login = await api.POST("/api/v1/auth/login", {
    body: { username, password },
  });
  if (login.error) {
    throw new Error(`login refused: ${login.error.slug} (${login.error.msg})`);
  }
  const answer = login.data.data;
  if (answer.mfa_required) {
    // A user with a second factor: POST /api/v1/auth/mfa/verify {ticket, code} gives the tokens.
    throw new Error(`a second factor is needed (${answer.factors?.join(", ")})`);
  }
  const { refresh_token, user } = answer;
  if (!user) {
    throw new Error("the login answer has no user");
  }
  console.log(`signed in as ${user.username}`);

  const refreshed = await api.POST("/api/v1/auth/refresh", {
    body: { refresh_token },
  });
  if (refreshed.error) {
    const slug: Unauthorized | string = refreshed.error.slug;
    throw new Error(`refresh refused: ${slug}`);
  }
  const pair = refreshed.data.data;
  const expires: string = pair.access_token_expire_time;

  const me = await api.GET("/api/v1/sys/users/me", {
    headers: { Authorization: `Bearer ${pair.access_token}` },
  });
  if (me.error) {
    throw new Error(`/me refused: ${me.error.slug}`);
  }
  console.log(`token valid until ${expires}; roles: ${me.data.data.roles.join(", ")}`);
  return me.data.data;
}
