// The API reference: Swagger UI on this server's own OpenAPI 3 document (the Swagger 2.0 one is
// at /api/v1/openapi.json, for older tools), whatever the address says.
// `queryConfigEnabled: false` keeps `?url=` and `?configUrl=` from choosing another document
// (CVE-2021-46708); it is Swagger UI 5's default, stated here so that no upgrade changes it.
'use strict';
window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi3.json',
  dom_id: '#swagger-ui',
  queryConfigEnabled: false,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // No badge fetched from validator.swagger.io: the page talks to this origin only.
  validatorUrl: null,
});
