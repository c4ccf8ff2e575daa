// Draws the page from its embedded data (#echolab-data): every figure was computed by
// loadgen; this script only lays it out. A small kit written for these pages: line charts
// (linear, log or "nines" axes; intervals as whiskers or bands; a tooltip with the exact
// value), forest plots, sortable tables and switches. SVG is built as markup.
(function () {
  'use strict';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
    '#17becf', '#7f7f7f', '#bcbd22', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];

  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;');
  }

  // A number as the tables and tooltips show it: whole numbers with separators, others
  // with five significant digits.
  function fmt(v) {
    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) return '-';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
    var a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString('en-US');
    return String(Number(v.toPrecision(5)));
  }

  function el(tag, attrs, html) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (html !== undefined) e.innerHTML = html;
    return e;
  }

  // One tooltip for the page, fed by any mark's data-tip.
  var tip = el('div', { 'class': 'tip' });
  function hookTips(node) {
    node.addEventListener('mousemove', function (e) {
      var t = e.target.closest ? e.target.closest('[data-tip]') : null;
      if (!t) { tip.style.display = 'none'; return; }
      tip.textContent = t.getAttribute('data-tip');
      tip.style.display = 'block';
      tip.style.left = (e.clientX + 12) + 'px';
      tip.style.top = (e.clientY + 12) + 'px';
    });
    node.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  }

  // ---- scales and ticks ----
  function nines(p) { return -Math.log10(Math.max(1e-12, 1 - p / 100)); }
  function scale(axis, lo, hi, a, b) {
    var f = axis.nines ? nines : axis.log ? Math.log10 : function (v) { return v; };
    var l = f(lo), h = f(hi);
    if (!(h > l)) { h = l + 1; }
    var s = function (v) { return a + (f(v) - l) / (h - l) * (b - a); };
    s.lo = lo; s.hi = hi;
    return s;
  }
  function niceStep(span, n) {
    var raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
  }
  function ticks(axis, lo, hi) {
    var out = [];
    if (axis.nines) {
      for (var k = 0; k <= Math.ceil(nines(hi)) && out.length < 12; k++) {
        var p = 100 * (1 - Math.pow(10, -k));
        if (p >= lo - 1e-9 && p <= hi + 1e-9) out.push([p, k === 0 ? '0%' : String(Number(p.toPrecision(k + 2))) + '%']);
      }
      return out;
    }
    if (axis.log && hi / lo < 20) {
      // Less than about a decade: evenly stepped ticks read better than powers of ten.
      var st = niceStep(hi - lo, 5);
      for (var u = Math.ceil(lo / st) * st; u <= hi + st * 1e-9; u += st) {
        out.push([u, fmt(Number(u.toPrecision(12)))]);
      }
      return out;
    }
    if (axis.log) {
      var e0 = Math.floor(Math.log10(lo)), e1 = Math.ceil(Math.log10(hi));
      var mult = e1 - e0 <= 2 ? [1, 2, 5] : [1];
      for (var e = e0; e <= e1; e++) {
        mult.forEach(function (m) {
          var v = m * Math.pow(10, e);
          if (v >= lo * 0.999 && v <= hi * 1.001) out.push([v, fmt(v)]);
        });
      }
      if (out.length < 2) { out = [[lo, fmt(lo)], [hi, fmt(hi)]]; }
      return out;
    }
    var step = niceStep(hi - lo || 1, 5);
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push([v, fmt(Number(v.toPrecision(12)))]);
    }
    return out;
  }
  // The range of some values on an axis, padded a little; a log axis keeps what is above 0.
  function range(axis, values, zero) {
    var v = values.filter(function (x) { return isFinite(x) && (!(axis.log) || x > 0); });
    if (!v.length) return null;
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v);
    if (axis.nines) return [Math.max(0, lo), Math.max(hi, lo + 1)];
    if (axis.log) {
      if (hi <= lo) { lo /= 1.5; hi *= 1.5; }
      return [lo / 1.1, hi * 1.1];
    }
    if (zero && lo > 0) lo = 0;
    if (hi <= lo) { hi = lo + (Math.abs(lo) || 1); }
    var pad = (hi - lo) * 0.05;
    return [zero && lo === 0 ? 0 : lo - pad, hi + pad];
  }

  function figure(spec, svg, points) {
    var f = el('figure', { 'class': 'chart', 'data-chart': spec.name });
    f.appendChild(el('figcaption', null, esc(spec.title)));
    f.insertAdjacentHTML('beforeend', svg);
    f.setAttribute('data-points', String(points));
    hookTips(f);
    return f;
  }

  function nodata(spec) {
    return el('p', { 'class': 'nodata' }, esc(spec.title) + ': no data');
  }

  // ---- line chart ----
  function line(spec) {
    var W = 760, H = 330, L = 70, R = 170, T = 12, B = 46;
    var xs = [], ys = [];
    spec.series.forEach(function (s) {
      if (!Array.isArray(s.x)) {
        // 1, 2, 3, ... written as {from, n}.
        var from = s.x.from, n = s.x.n;
        s.x = [];
        for (var k = 0; k < n; k++) s.x.push(from + k);
      }
      xs = xs.concat(s.x); ys = ys.concat(s.y);
      if (s.lo) ys = ys.concat(s.lo, s.hi);
    });
    var rx = range(spec.x, xs, false), ry = range(spec.y, ys, !spec.y.log);
    if (!rx || !ry) return nodata(spec);
    // Figures that cannot be negative keep the axis at 0 even when an interval from few
    // blocks reaches below it (its whisker is cut there).
    var mainY = [];
    spec.series.forEach(function (s) { mainY = mainY.concat(s.y); });
    if (!spec.y.log && ry[0] < 0 && Math.min.apply(null, mainY) >= 0) ry[0] = 0;
    var sx = scale(spec.x, rx[0], rx[1], L, W - R), sy = scale(spec.y, ry[0], ry[1], H - B, T);
    var o = ['<svg viewBox="0 0 ' + W + ' ' + H + '" role="img">'];
    ticks(spec.x, rx[0], rx[1]).forEach(function (t) {
      var x = sx(t[0]).toFixed(1);
      o.push('<line class="grid" x1="' + x + '" x2="' + x + '" y1="' + T + '" y2="' + (H - B) + '"/>');
      o.push('<text x="' + x + '" y="' + (H - B + 15) + '" text-anchor="middle">' + esc(t[1]) + '</text>');
    });
    ticks(spec.y, ry[0], ry[1]).forEach(function (t) {
      var y = sy(t[0]).toFixed(1);
      o.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + y + '" y2="' + y + '"/>');
      o.push('<text x="' + (L - 6) + '" y="' + y + '" dy="4" text-anchor="end">' + esc(t[1]) + '</text>');
    });
    o.push('<line class="axis" x1="' + L + '" x2="' + (W - R) + '" y1="' + (H - B) + '" y2="' + (H - B) + '"/>');
    o.push('<line class="axis" x1="' + L + '" x2="' + L + '" y1="' + T + '" y2="' + (H - B) + '"/>');
    o.push('<text x="' + ((L + W - R) / 2) + '" y="' + (H - 8) + '" text-anchor="middle">' + esc(spec.x.label) + '</text>');
    o.push('<text transform="translate(14,' + ((T + H - B) / 2) + ') rotate(-90)" text-anchor="middle">' + esc(spec.y.label) + '</text>');
    var marks = 0, many = spec.series.reduce(function (n, s) { return n + s.x.length; }, 0) > 400;
    spec.series.forEach(function (s, i) {
      var c = COLORS[i % COLORS.length], pts = [];
      var ok = function (k) {
        return isFinite(s.x[k]) && isFinite(s.y[k]) && !(spec.x.log && s.x[k] <= 0) && !(spec.y.log && s.y[k] <= 0);
      };
      for (var k = 0; k < s.x.length; k++) if (ok(k)) pts.push(k);
      if (s.lo && spec.band && pts.length) {
        var up = pts.map(function (k) { return sx(s.x[k]).toFixed(1) + ',' + sy(Math.max(s.hi[k], ry[0])).toFixed(1); });
        var down = pts.slice().reverse().map(function (k) { return sx(s.x[k]).toFixed(1) + ',' + sy(Math.max(s.lo[k], ry[0])).toFixed(1); });
        o.push('<polygon class="s' + i + '" fill="' + c + '" fill-opacity="0.15" stroke="none" points="' + up.concat(down).join(' ') + '"/>');
        marks += pts.length;
      }
      if (pts.length > 1) {
        o.push('<polyline class="s' + i + '" fill="none" stroke="' + c + '" stroke-width="1.5" points="' + pts.map(function (k) {
          return sx(s.x[k]).toFixed(1) + ',' + sy(s.y[k]).toFixed(1);
        }).join(' ') + '"/>');
      }
      pts.forEach(function (k) {
        var x = sx(s.x[k]).toFixed(1), y = sy(s.y[k]).toFixed(1);
        var t = s.name + '\n' + spec.x.label + ': ' + fmt(s.x[k]) + '\n' + spec.y.label + ': ' + fmt(s.y[k]);
        if (s.lo && isFinite(s.lo[k])) {
          t += ' [' + fmt(s.lo[k]) + ', ' + fmt(s.hi[k]) + ']';
          if (!spec.band) {
            o.push('<line class="s' + i + '" stroke="' + c + '" x1="' + x + '" x2="' + x + '" y1="' + sy(Math.max(s.lo[k], ry[0])).toFixed(1) +
              '" y2="' + sy(s.hi[k]).toFixed(1) + '" data-tip="' + esc(t) + '"/>');
            marks++;
          }
        }
        o.push('<circle class="s' + i + '" cx="' + x + '" cy="' + y + '" r="' + (many ? 2 : 3) + '" fill="' + c + '" data-tip="' + esc(t) + '"/>');
        marks++;
      });
      var ly = T + 8 + i * 16;
      o.push('<g class="legend" data-series="' + i + '"><title>click to hide or show</title>');
      o.push('<rect x="' + (W - R + 12) + '" y="' + (ly - 5) + '" width="12" height="3" fill="' + c + '"/>');
      o.push('<text x="' + (W - R + 30) + '" y="' + ly + '">' + esc(s.name) + '</text></g>');
    });
    o.push('</svg>');
    if (!marks) return nodata(spec);
    var f = figure(spec, o.join(''), marks);
    // A click on a legend entry hides or shows its series.
    f.addEventListener('click', function (e) {
      var g = e.target.closest ? e.target.closest('g.legend') : null;
      if (!g) return;
      var off = g.classList.toggle('off');
      Array.prototype.forEach.call(f.querySelectorAll('.s' + g.getAttribute('data-series')), function (m) {
        m.style.display = off ? 'none' : '';
      });
    });
    return f;
  }

  // ---- forest plot ----
  function forest(spec) {
    var rows = spec.rows.filter(function (r) { return isFinite(r.ratio) && r.ratio > 0; });
    if (!rows.length) return nodata(spec);
    var W = 760, L = 170, R = 190, T = 10, rowH = 22, H = T + rows.length * rowH + 40;
    var vals = [1 - spec.margin, 1 + spec.margin];
    rows.forEach(function (r) {
      vals.push(r.ratio);
      if (r.lo > 0) vals.push(r.lo);
      if (r.hi > 0 && isFinite(r.hi)) vals.push(r.hi);
    });
    var axis = { log: true, label: spec.label };
    var rg = range(axis, vals, false), sx = scale(axis, rg[0], rg[1], L, W - R);
    var o = ['<svg viewBox="0 0 ' + W + ' ' + H + '" role="img">'];
    o.push('<rect class="margin" x="' + sx(1 - spec.margin).toFixed(1) + '" y="' + T + '" width="' +
      (sx(1 + spec.margin) - sx(1 - spec.margin)).toFixed(1) + '" height="' + (rows.length * rowH) + '"/>');
    ticks(axis, rg[0], rg[1]).forEach(function (t) {
      var x = sx(t[0]).toFixed(1);
      o.push('<line class="grid" x1="' + x + '" x2="' + x + '" y1="' + T + '" y2="' + (T + rows.length * rowH) + '"/>');
      o.push('<text x="' + x + '" y="' + (T + rows.length * rowH + 14) + '" text-anchor="middle">' + esc(t[1]) + '</text>');
    });
    o.push('<line class="one" x1="' + sx(1).toFixed(1) + '" x2="' + sx(1).toFixed(1) + '" y1="' + T + '" y2="' + (T + rows.length * rowH) + '"/>');
    o.push('<text x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">' + esc(spec.label) + '</text>');
    var marks = 0;
    rows.forEach(function (r, i) {
      var y = T + i * rowH + rowH / 2, x = sx(r.ratio);
      var t = r.label + ': ' + fmt(r.ratio) + (r.lo !== null && r.lo !== undefined ? ' [' + fmt(r.lo) + ', ' + fmt(r.hi) + ']' : '') + '\n' + r.verdict;
      o.push('<text x="' + (L - 8) + '" y="' + y + '" dy="4" text-anchor="end">' + esc(r.label) + '</text>');
      o.push('<text x="' + (W - R + 8) + '" y="' + y + '" dy="4">' + esc(r.verdict) + '</text>');
      if (r.lo > 0 && r.hi > 0) {
        var a = sx(Math.max(r.lo, rg[0])).toFixed(1), b = sx(Math.min(r.hi, rg[1])).toFixed(1);
        o.push('<line stroke="#333" stroke-width="1.5" x1="' + a + '" x2="' + b + '" y1="' + y + '" y2="' + y + '" data-tip="' + esc(t) + '"/>');
        marks++;
      }
      o.push('<rect x="' + (x - 4).toFixed(1) + '" y="' + (y - 4) + '" width="8" height="8" fill="#1f77b4" data-tip="' + esc(t) + '"/>');
      marks++;
    });
    o.push('</svg>');
    return figure(spec, o.join(''), marks);
  }

  // ---- table ----
  function table(spec) {
    var t = el('table', { 'class': spec['class'], 'data-rows': String(spec.rows.length) });
    spec.attrs.forEach(function (a) { t.setAttribute(a[0], a[1]); });
    var head = '<thead><tr>' + spec.columns.map(function (c) { return '<th>' + esc(c) + '</th>'; }).join('') + '</tr></thead>';
    var body = '<tbody>' + spec.rows.map(function (r) {
      return '<tr>' + r.map(function (c) {
        return '<td' + (typeof c === 'number' ? ' data-v="' + c + '"' : typeof c === 'string' ? ' class="t"' : '') + '>' + esc(fmt(c)) + '</td>';
      }).join('') + '</tr>';
    }).join('') + '</tbody>';
    t.innerHTML = head + body;
    Array.prototype.forEach.call(t.querySelectorAll('th'), function (th, col) {
      th.addEventListener('click', function () { sortBy(t, th, col); });
    });
    return t;
  }
  function sortBy(t, th, col) {
    var asc = !th.classList.contains('asc');
    Array.prototype.forEach.call(t.querySelectorAll('th'), function (h) { h.classList.remove('asc', 'desc'); });
    th.classList.add(asc ? 'asc' : 'desc');
    var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var key = function (tr) {
      var td = tr.cells[col];
      if (!td) return null;
      var v = td.getAttribute('data-v');
      return v !== null ? Number(v) : td.textContent;
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), c;
      if (typeof x === 'number' && typeof y === 'number') c = x - y;
      else if (typeof x === 'number') c = -1;
      else if (typeof y === 'number') c = 1;
      else c = String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // ---- switch ----
  function switcher(spec) {
    var d = el('div', { 'class': 'switched' });
    var bar = el('div', { 'class': 'switch' }, '<span>' + esc(spec.label) + ':</span>');
    var panes = spec.options.map(function (opt, i) {
      var b = el('button', { type: 'button' }, esc(opt.name));
      var pane = el('div', { 'class': 'option' });
      opt.blocks.forEach(function (blk) { pane.appendChild(block(blk)); });
      if (i > 0) pane.hidden = true; else b.className = 'on';
      b.addEventListener('click', function () {
        panes.forEach(function (p) { p[0].hidden = p[0] !== pane; p[1].className = p[0] === pane ? 'on' : ''; });
      });
      bar.appendChild(b);
      return [pane, b];
    });
    d.appendChild(bar);
    panes.forEach(function (p) { d.appendChild(p[0]); });
    return d;
  }

  function block(b) {
    switch (b.kind) {
      case 'table': var w = el('div', { 'class': 'scroll' }); w.appendChild(table(b)); return w;
      case 'line': return line(b);
      case 'forest': return forest(b);
      case 'switch': return switcher(b);
      case 'list': return el('ul', null, b.items.map(function (i) { return '<li>' + esc(i) + '</li>'; }).join(''));
      case 'heading': return el('h3', null, esc(b.text));
      default: throw new Error('unknown block ' + b.kind);
    }
  }

  function draw() {
    var data = JSON.parse(document.getElementById('echolab-data').textContent);
    var main = document.getElementById('echolab');
    main.appendChild(el('h1', null, esc(data.title)));
    if (data.header.length) {
      main.appendChild(el('dl', { 'class': 'header' }, data.header.map(function (h) {
        return '<dt>' + esc(h[0]) + '</dt><dd>' + esc(h[1]) + '</dd>';
      }).join('')));
    }
    if (data.links.length) {
      main.appendChild(el('nav', { 'class': 'links' }, data.links.map(function (l) {
        return '<a href="' + esc(l.href) + '">' + esc(l.text) + '</a>';
      }).join('')));
    }
    if (data.sections.length > 2) {
      main.appendChild(el('nav', { 'class': 'toc' }, data.sections.map(function (s) {
        return '<a href="#' + esc(s.id) + '">' + esc(s.title) + '</a>';
      }).join('')));
    }
    data.sections.forEach(function (s) {
      var sec = el('section', { id: s.id });
      sec.appendChild(el('h2', null, esc(s.title)));
      s.text.forEach(function (p) { sec.appendChild(el('p', null, esc(p))); });
      s.blocks.forEach(function (b) { sec.appendChild(block(b)); });
      main.appendChild(sec);
    });
    document.body.appendChild(tip);
  }

  try {
    draw();
    document.documentElement.setAttribute('data-rendered', 'ok');
  } catch (e) {
    document.documentElement.setAttribute('data-rendered', 'error');
    if (window.echolabNote) window.echolabNote('drawing failed: ' + (e && e.stack || e));
  }
})();
