// The page's status for its readers and its browser test: every error counts into
// data-errors on <html> and is written into <pre id="echolab-errors">; kit.js sets
// data-rendered when it has drawn the page. Installed first, before anything can fail.
(function () {
  var root = document.documentElement;
  root.setAttribute('data-errors', '0');
  function box() {
    var p = document.getElementById('echolab-errors');
    if (!p) {
      p = document.createElement('pre');
      p.id = 'echolab-errors';
      p.hidden = true;
      (document.body || root).appendChild(p);
    }
    return p;
  }
  function note(msg) {
    root.setAttribute('data-errors', String((parseInt(root.getAttribute('data-errors'), 10) || 0) + 1));
    var p = box();
    p.textContent += msg + '\n';
    p.hidden = false;
  }
  window.echolabNote = note;
  window.onerror = function (msg, src, line) {
    note('error: ' + msg + (line ? ' (line ' + line + ')' : ''));
  };
  var original = console.error;
  console.error = function () {
    note('console.error: ' + Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
  document.addEventListener('securitypolicyviolation', function (e) {
    note('blocked by the page\'s policy: ' + e.blockedURI + ' (' + e.violatedDirective + ')');
  });
})();
