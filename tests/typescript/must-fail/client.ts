// Must NOT type-check: proves the check reads the generated types (a misspelt body field and a
// response field that does not exist).
import createClient from "openapi-fetch";
import type { paths } from "../generated/schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });
const login = await api.POST("/api/v1/auth/login", {
  body: { user: "admin", password: "secret" },
});
if (login.data) {
  console.log(login.data.data.access_tokn);
}
