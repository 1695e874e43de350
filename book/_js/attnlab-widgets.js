// Loaded on pages with ipywidgets, between require.js and the ipywidgets HTML manager
// (see nb_ipywidgets_js in _config.yml). Two adjustments so widgets render offline:
//
// 1. The manager loads its icon fonts relative to the AMD module URL, which require.js resolves
//    against its baseUrl (the page's folder by default). Point baseUrl at _static/widgets/, where
//    `make vendor` puts @jupyter-widgets/html-manager/dist/ and its fonts.
// 2. The manager typesets widget labels with MathJax 2's API (MathJax.Hub.Queue); the book loads
//    MathJax 3, which has no Hub. Provide a Hub whose Queue calls MathJax 3's typesetPromise.
(function () {
  var here = document.currentScript ? document.currentScript.src : "";
  var base = here.slice(0, here.lastIndexOf("/") + 1) + "widgets/";
  if (window.require && window.require.config) {
    window.require.config({ baseUrl: base });
  }

  function hub() {
    return {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && window.MathJax.typesetPromise) {
            window.MathJax.typesetPromise([job[2]]).catch(function () {});
          }
        }
      },
    };
  }
  function patch() {
    if (window.MathJax && !window.MathJax.Hub) {
      window.MathJax.Hub = hub();
    }
  }
  patch();
  // MathJax 3 replaces window.MathJax when its (deferred) script runs, before DOMContentLoaded.
  document.addEventListener("DOMContentLoaded", patch);
  window.addEventListener("load", patch);
})();
