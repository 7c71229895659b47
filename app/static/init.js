// Marks the page as having JavaScript (as the NHS.UK page template does inline, which the
// Content-Security-Policy forbids) and starts the NHS.UK frontend components.
document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
const script = document.querySelector("script[data-nhsuk-frontend]");
if (script) {
  import(script.dataset.nhsukFrontend).then((frontend) => frontend.initAll());
}
