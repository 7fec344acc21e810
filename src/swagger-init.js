// Starts Swagger UI on /api/docs with this server's document. A file, not an inline script,
// so that a Content-Security-Policy of script-src 'self' allows it.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Swagger UI would otherwise send the document to validator.swagger.io for its badge.
    validatorUrl: null,
  });
});
