/* aekit interactive latent map: decode any point of a 2-D map of codes in the page.
 *
 * Written into the report folder by aekit.report.latent_map (inlined in a self-contained
 * report); no network, no server. Each map's data sits in
 * window.AEKIT_LATENT_MAP_DATA[id] (a script written beside this one): the points of the
 * map, the plane z = origin + a * axes[0] + b * axes[1] that a map position (a, b) stands
 * for, and the decoder as a list of operations with float32 weights (base64,
 * little-endian). The forward pass below runs those operations in float32 storage (each
 * layer's outputs are held in Float32Array; sums accumulate in double, then round), so its
 * outputs match PyTorch's float32 decode to about 1e-6.
 *
 * Operations (shapes are channel-major, like PyTorch's (C, H, W)):
 *   linear   y = W x + b, W (out, in)
 *   act      relu | selu | elu | tanh | sigmoid | linear, elementwise
 *   reshape  flat -> (C, H, W)
 *   upsample nearest-neighbour to (H, W), PyTorch's index rule floor(dst * in / out)
 *   unpool   max-unpooling with fixed top-left indices (a free code has no encoder indices)
 *   conv3    3x3 convolution, padding 1
 *   convT    4x4 transposed convolution, stride 2, padding 1, to the recorded (H, W)
 *   crop     keep the first n values (the row without its layout padding)
 *
 * window.aekitLatentMap.maps[id] exposes the state for tests and curious users:
 *   shown  {code, values, source}  the image on display (source "hover" or "click")
 *   picks  [{code, values, xy}]    the clicked points (two: the strip is shown)
 *   strip  [{t, code, values}]     the interpolation strip between the two picks
 *   decode(code) -> values         the forward pass
 */
(function () {
  "use strict";
  if (window.aekitLatentMap) {  // a second map in the same page: the code is already here
    window.aekitLatentMap.initAll();
    return;
  }

  var SELU_ALPHA = 1.6732632423543772, SELU_SCALE = 1.0507009873554805;
  var ACTIVATIONS = {
    relu: function (v) { return v > 0 ? v : 0; },
    selu: function (v) { return SELU_SCALE * (v > 0 ? v : SELU_ALPHA * (Math.exp(v) - 1)); },
    elu: function (v) { return v > 0 ? v : Math.exp(v) - 1; },
    tanh: function (v) { return Math.tanh(v); },
    sigmoid: function (v) { return 1 / (1 + Math.exp(-v)); },
    linear: function (v) { return v; }
  };
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function floats(b64) {  // base64 of little-endian float32 -> Float32Array
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  // --- the forward pass ------------------------------------------------------------------
  function linear(x, W, b) {  // x (in,), W (out, in) row-major -> (out,)
    var nOut = b.length, nIn = x.length, y = new Float32Array(nOut);
    for (var o = 0; o < nOut; o++) {
      var s = b[o], row = o * nIn;
      for (var i = 0; i < nIn; i++) s += W[row + i] * x[i];
      y[o] = s;
    }
    return y;
  }

  function conv3(t, W, b) {  // (C, H, W) -> (O, H, W); W (O, C, 3, 3), padding 1
    var C = t.c, H = t.h, Wd = t.w, O = b.length, y = new Float32Array(O * H * Wd);
    for (var o = 0; o < O; o++) {
      for (var yy = 0; yy < H; yy++) {
        for (var xx = 0; xx < Wd; xx++) {
          var s = b[o];
          for (var c = 0; c < C; c++) {
            for (var ky = 0; ky < 3; ky++) {
              var iy = yy + ky - 1;
              if (iy < 0 || iy >= H) continue;
              for (var kx = 0; kx < 3; kx++) {
                var ix = xx + kx - 1;
                if (ix < 0 || ix >= Wd) continue;
                s += W[((o * C + c) * 3 + ky) * 3 + kx] * t.d[(c * H + iy) * Wd + ix];
              }
            }
          }
          y[(o * H + yy) * Wd + xx] = s;
        }
      }
    }
    return {c: O, h: H, w: Wd, d: y};
  }

  function convT(t, W, b, size) {  // (C, H, W) -> (O, Ho, Wo); W (C, O, 4, 4), stride 2, pad 1
    var C = t.c, H = t.h, Wi = t.w, O = b.length, Ho = size[0], Wo = size[1];
    var acc = new Float64Array(O * Ho * Wo);
    for (var o = 0; o < O; o++) acc.fill(b[o], o * Ho * Wo, (o + 1) * Ho * Wo);
    for (var c = 0; c < C; c++) {
      for (var iy = 0; iy < H; iy++) {
        for (var ix = 0; ix < Wi; ix++) {
          var v = t.d[(c * H + iy) * Wi + ix];
          if (v === 0) continue;
          for (var o2 = 0; o2 < O; o2++) {
            for (var ky = 0; ky < 4; ky++) {
              var oy = 2 * iy - 1 + ky;  // output row = stride * input row - padding + tap
              if (oy < 0 || oy >= Ho) continue;
              for (var kx = 0; kx < 4; kx++) {
                var ox = 2 * ix - 1 + kx;
                if (ox < 0 || ox >= Wo) continue;
                acc[(o2 * Ho + oy) * Wo + ox] += v * W[((c * O + o2) * 4 + ky) * 4 + kx];
              }
            }
          }
        }
      }
    }
    return {c: O, h: Ho, w: Wo, d: Float32Array.from(acc)};
  }

  function nearestIndex(dst, inSize, outSize) {  // PyTorch's nearest_idx (float32 scale)
    if (outSize === inSize) return dst;
    if (outSize === 2 * inSize) return dst >> 1;
    var scale = Math.fround(inSize / outSize);
    return Math.min(Math.floor(Math.fround(dst * scale)), inSize - 1);
  }

  function upsample(t, size) {
    var Ho = size[0], Wo = size[1], y = new Float32Array(t.c * Ho * Wo);
    for (var c = 0; c < t.c; c++) {
      for (var oy = 0; oy < Ho; oy++) {
        var iy = nearestIndex(oy, t.h, Ho);
        for (var ox = 0; ox < Wo; ox++) {
          var ix = nearestIndex(ox, t.w, Wo);
          y[(c * Ho + oy) * Wo + ox] = t.d[(c * t.h + iy) * t.w + ix];
        }
      }
    }
    return {c: t.c, h: Ho, w: Wo, d: y};
  }

  function unpoolTopLeft(t, size) {
    var Ho = size[0], Wo = size[1], y = new Float32Array(t.c * Ho * Wo);
    for (var c = 0; c < t.c; c++)
      for (var iy = 0; iy < t.h; iy++)
        for (var ix = 0; ix < t.w; ix++)
          y[(c * Ho + 2 * iy) * Wo + 2 * ix] = t.d[(c * t.h + iy) * t.w + ix];
    return {c: t.c, h: Ho, w: Wo, d: y};
  }

  function makeDecoder(spec) {
    var arrays = {};
    Object.keys(spec.arrays).forEach(function (name) {
      arrays[name] = floats(spec.arrays[name].data);
    });
    return function decode(code) {
      var x = Float32Array.from(code), t = null;
      spec.ops.forEach(function (op) {
        switch (op.op) {
          case "linear": x = linear(x, arrays[op.w], arrays[op.b]); break;
          case "act": {
            var f = ACTIVATIONS[op.fn], src = t ? t.d : x;
            for (var i = 0; i < src.length; i++) src[i] = f(src[i]);
            break;
          }
          case "reshape": t = {c: op.shape[0], h: op.shape[1], w: op.shape[2], d: x}; break;
          case "upsample": t = upsample(t, op.size); break;
          case "unpool": t = unpoolTopLeft(t, op.size); break;
          case "conv3": t = conv3(t, arrays[op.w], arrays[op.b]); break;
          case "convT": t = convT(t, arrays[op.w], arrays[op.b], op.size); break;
          case "crop": x = (t ? t.d : x).slice(0, op.n); t = null; break;
          default: throw new Error("aekit latent map: unknown operation " + op.op);
        }
      });
      return t ? t.d : x;
    };
  }

  // --- drawing ---------------------------------------------------------------------------
  function drawImage(canvas, values, shape) {  // values (n,) <= C*H*W; padding shown black
    var C = shape[0], H = shape[1], W = shape[2];
    var rgb = C === 3, tiles = rgb ? 1 : C;
    canvas.width = W * tiles;
    canvas.height = H;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(W * tiles, H);
    function at(c, y, x) {
      var k = (c * H + y) * W + x;
      var v = k < values.length ? values[k] : 0;
      return Math.round(255 * Math.min(1, Math.max(0, v)));
    }
    for (var y = 0; y < H; y++) {
      for (var x = 0; x < W * tiles; x++) {
        var p = 4 * (y * W * tiles + x), tile = Math.floor(x / W), xx = x % W;
        if (rgb) {
          img.data[p] = at(0, y, xx); img.data[p + 1] = at(1, y, xx); img.data[p + 2] = at(2, y, xx);
        } else {
          img.data[p] = img.data[p + 1] = img.data[p + 2] = at(tile, y, xx);
        }
        img.data[p + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  // A row that is no image (a table's row): one bar per feature, its height the value
  // within that feature's range over the mapped rows (so features of any unit compare).
  function drawProfile(canvas, values, profile) {
    var D = profile.lo.length, H = 80, bar = Math.max(1, Math.min(8, Math.floor(600 / D)));
    canvas.width = D * bar;
    canvas.height = H;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, H);
    ctx.fillStyle = "#333";
    for (var j = 0; j < D; j++) {
      var span = profile.hi[j] - profile.lo[j];
      var f = span > 0 ? (values[j] - profile.lo[j]) / span : 0.5;
      var h = Math.round(H * Math.min(1, Math.max(0, f)));
      ctx.fillRect(j * bar, H - h, Math.max(1, bar - 1), h);
    }
  }

  function draw(canvas, values, data) {
    if (data.image_shape) drawImage(canvas, values, data.image_shape);
    else drawProfile(canvas, values, data.profile);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function fmt(v) { return Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(3); }

  function codeText(code) {
    var shown = Array.prototype.slice.call(code, 0, 6).map(fmt).join(", ");
    return "z = (" + shown + (code.length > 6 ? ", ... " + code.length + " values" : "") + ")";
  }

  function init(root, data) {
    var decode = makeDecoder(data.decoder);
    var origin = floats(data.plane.origin), axes = floats(data.plane.axes), k = data.code_size;
    var xy = floats(data.points.xy), labels = data.points.labels;
    var vx = data.view.x, vy = data.view.y;
    var plot = root.querySelector(".lm-plot"), preview = root.querySelector(".lm-preview");
    var readout = root.querySelector(".lm-readout"), stripBox = root.querySelector(".lm-strip");
    var size = plot.width;
    var state = {shown: null, picks: [], strip: [], decode: decode, data: data};

    function toMap(px, py) {  // canvas pixel -> map coordinates (a, b)
      return [vx[0] + (px / size) * (vx[1] - vx[0]), vy[1] - (py / size) * (vy[1] - vy[0])];
    }
    function toPixel(a, b) {
      return [(a - vx[0]) / (vx[1] - vx[0]) * size, (vy[1] - b) / (vy[1] - vy[0]) * size];
    }
    function planeCode(a, b) {  // z = origin + a * axes[0] + b * axes[1], float32
      var z = new Float32Array(k);
      for (var j = 0; j < k; j++) z[j] = origin[j] + a * axes[j] + b * axes[k + j];
      return z;
    }

    // the points, drawn once
    var back = document.createElement("canvas");
    back.width = back.height = size;
    var bctx = back.getContext("2d");
    bctx.fillStyle = "#fff";
    bctx.fillRect(0, 0, size, size);
    bctx.globalAlpha = 0.6;
    for (var i = 0; i < xy.length / 2; i++) {
      var p = toPixel(xy[2 * i], xy[2 * i + 1]);
      bctx.fillStyle = PALETTE[(labels ? labels[i] : 0) % PALETTE.length];
      bctx.fillRect(p[0] - 1.5, p[1] - 1.5, 3, 3);
    }
    bctx.globalAlpha = 1;

    function redraw(hover) {
      var ctx = plot.getContext("2d");
      ctx.drawImage(back, 0, 0);
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      if (state.picks.length === 2) {
        var a = toPixel.apply(null, state.picks[0].xy), b = toPixel.apply(null, state.picks[1].xy);
        ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
      }
      state.picks.forEach(function (pick, n) {
        var q = toPixel.apply(null, pick.xy);
        ctx.beginPath(); ctx.arc(q[0], q[1], 6, 0, 2 * Math.PI); ctx.stroke();
        ctx.fillStyle = "#000";
        ctx.font = "bold 12px sans-serif";
        ctx.fillText(n === 0 ? "A" : "B", q[0] + 8, q[1] - 8);
      });
      if (hover) {
        ctx.strokeStyle = "rgba(0,0,0,0.35)";
        ctx.beginPath();
        ctx.moveTo(hover[0], 0); ctx.lineTo(hover[0], size);
        ctx.moveTo(0, hover[1]); ctx.lineTo(size, hover[1]);
        ctx.stroke();
      }
    }

    function show(code, source, ab) {
      var values = decode(code);
      draw(preview, values, data);
      readout.textContent = "map (" + fmt(ab[0]) + ", " + fmt(ab[1]) + ")  " + codeText(code);
      state.shown = {code: code, values: values, source: source};
      return values;
    }

    function position(event) {
      var r = plot.getBoundingClientRect();
      return [(event.clientX - r.left) * size / r.width, (event.clientY - r.top) * size / r.height];
    }

    function showStrip() {
      stripBox.textContent = "";
      state.strip = [];
      var a = state.picks[0].code, b = state.picks[1].code, n = data.strip_steps;
      for (var s = 0; s < n; s++) {
        var t = s / (n - 1), z = new Float32Array(k);
        for (var j = 0; j < k; j++) z[j] = (1 - t) * a[j] + t * b[j];  // linear in code space
        var values = decode(z), c = el("canvas", "lm-strip-image");
        c.title = "t = " + t.toFixed(2);
        draw(c, values, data);
        stripBox.appendChild(c);
        state.strip.push({t: t, code: z, values: values});
      }
    }

    var pending = null;
    plot.addEventListener("mousemove", function (event) {
      var px = position(event);
      if (pending === null) {
        window.requestAnimationFrame(function () {
          var q = pending;
          pending = null;
          var ab = toMap(q[0], q[1]);
          show(planeCode(ab[0], ab[1]), "hover", ab);
          redraw(q);
        });
      }
      pending = px;
    });
    plot.addEventListener("mouseleave", function () {
      var last = state.picks[state.picks.length - 1];
      if (last) show(last.code, "click", last.xy);
      redraw(null);
    });
    plot.addEventListener("click", function (event) {
      var px = position(event), ab = toMap(px[0], px[1]), code = planeCode(ab[0], ab[1]);
      pending = null;  // the click's own image wins over a hover frame still queued
      if (state.picks.length === 2) { state.picks = []; state.strip = []; stripBox.textContent = ""; }
      var values = show(code, "click", ab);
      state.picks.push({code: code, values: values, xy: ab});
      if (state.picks.length === 2) showStrip();
      redraw(px);
    });

    if (labels && data.points.label_names) {
      var legend = root.querySelector(".lm-legend");
      data.points.label_names.forEach(function (name, n) {
        var item = el("span", "lm-key"), dot = el("span", "lm-dot");
        dot.style.background = PALETTE[n % PALETTE.length];
        item.appendChild(dot);
        item.appendChild(document.createTextNode(name));
        legend.appendChild(item);
      });
    }
    redraw(null);
    var start = toMap(size / 2, size / 2);
    show(planeCode(start[0], start[1]), "start", start);
    root.setAttribute("data-ready", "1");
    return state;
  }

  var api = {
    maps: {},
    makeDecoder: makeDecoder,
    initAll: function () {
      var all = window.AEKIT_LATENT_MAP_DATA || {};
      Array.prototype.forEach.call(document.querySelectorAll(".aekit-latent-map"), function (root) {
        var id = root.getAttribute("data-map");
        if (api.maps[id] || !all[id]) return;
        api.maps[id] = init(root, all[id]);
      });
    }
  };
  window.aekitLatentMap = api;
  api.initAll();
})();
