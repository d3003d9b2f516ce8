// Week view: choosing another calendar opens its week (a static file: the CSP allows no
// inline handlers).
document.addEventListener("DOMContentLoaded", () => {
  for (const select of document.querySelectorAll("select[data-navigate]")) {
    select.addEventListener("change", () => {
      if (select.value) window.location = select.value;
    });
  }
});
