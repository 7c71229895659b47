// Starts Swagger UI on /api/docs (a file, not an inline script: the Content-Security-Policy
// allows this site's scripts only).
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  domNode: root,
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
