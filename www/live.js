/*
 * live.js - the live figures of index.html.
 *
 * Asks this server's /api/stats once a second and draws the answers: the
 * big numbers, a chart of requests per second over the last minute, and
 * the latency percentiles.  /api/stats only has totals since start, so
 * every rate here is the change between two answers divided by the time
 * between them.  Plain JavaScript and SVG, nothing fetched from elsewhere.
 *
 * #live carries data-updates, the number of answers drawn so far, so a
 * test (tests/browser/) can wait for the next one instead of sleeping.
 */
"use strict";

/* Before the first paint: the stylesheet shows the figures, not "needs JS". */
document.documentElement.classList.add("js");

(function () {
	var POLL_MS = 1000; /* one question a second */
	var TIMEOUT_MS = 4000; /* a question unanswered this long is dropped */
	var LATE_MS = 2500; /* no answer for this long: say so, grey the chart */
	var WINDOW_MS = 60000; /* the chart's width in time */
	var SVG = "http://www.w3.org/2000/svg";

	var samples = []; /* {t, req, err}: one per answer, oldest first */
	var last = null; /* the last answer, parsed */
	var lastAt = 0; /* performance.now() when it came */
	var updates = 0;
	var problem = ""; /* why the last question failed, if it did */
	var el = {};

	function $(id) {
		return document.getElementById(id);
	}

	function grouped(n) {
		return Math.round(n).toLocaleString("en-US");
	}

	function rate(n) {
		if (n > 0 && n < 10)
			return n.toFixed(1);
		return grouped(n);
	}

	/* Microseconds as a person reads them: 128 us, 2.0 ms, 1.5 s. */
	function duration(us) {
		if (us < 1000)
			return Math.round(us) + " \u00b5s";
		if (us < 1e6)
			return (us / 1000).toFixed(us < 1e4 ? 1 : 0) + " ms";
		return (us / 1e6).toFixed(1) + " s";
	}

	function uptime(s) {
		var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;

		if (h > 0)
			return h + " h " + m + " min";
		if (m > 0)
			return m + " min " + (s % 60) + " s";
		return s + " s";
	}

	function setText(node, text) {
		if (node.textContent !== text)
			node.textContent = text;
	}

	/* ---- the big numbers ------------------------------------------------ */

	function drawNumbers(st) {
		var n = samples.length, a = samples[n - 2], b = samples[n - 1];
		var dt = a ? (b.t - a.t) / 1000 : 0;
		var rps = dt > 0 ? (b.req - a.req) / dt : 0;
		var eps = dt > 0 ? (b.err - a.err) / dt : 0;
		var five = st.responses["5xx"];

		setText($("model"), st.model);
		document.title = st.model + " - concurrency-servers live";
		setText($("rps"), a ? rate(rps) : "-");
		setText($("conns"), grouped(st.active_connections));
		setText($("threads"), grouped(st.threads));
		setText($("procs"), grouped(st.processes));
		if (st.queue_capacity > 0) {
			setText($("queue"), grouped(st.queue_depth));
			setText($("queue-cap"), "of " + grouped(st.queue_capacity));
			el.queueCard.classList.remove("idle");
			el.queueCard.classList.toggle("alarm",
				st.queue_depth >= st.queue_capacity);
		} else {
			setText($("queue"), "none");
			setText($("queue-cap"), "");
			setText($("queue-why"), "No queue in this model: only 04 " +
				"and 06 have one.");
			el.queueCard.classList.add("idle");
		}
		setText($("errs"), a ? rate(eps) : "-");
		setText($("errs-total"), grouped(five) + " since start.");
		el.errCard.classList.toggle("alarm", eps > 0);
		setText($("p50"), duration(st.latency_us.p50));
		setText($("p90"), duration(st.latency_us.p90));
		setText($("p99"), duration(st.latency_us.p99));
		setText($("requests"), grouped(st.requests));
		setText($("connections"), grouped(st.total_connections));
		setText($("uptime"), uptime(st.uptime_s));
	}

	/* ---- the chart ------------------------------------------------------ */

	function svg(parent, name, attrs, text) {
		var node = document.createElementNS(SVG, name);

		for (var k in attrs)
			node.setAttribute(k, attrs[k]);
		if (text !== undefined)
			node.textContent = text;
		parent.appendChild(node);
		return node;
	}

	/* The smallest of 1, 2, 5, 10, 20, 50 ... that is at least v. */
	function niceCeil(v) {
		var p = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1))));

		if (v <= p)
			return p;
		if (v <= 2 * p)
			return 2 * p;
		if (v <= 5 * p)
			return 5 * p;
		return 10 * p;
	}

	/*
	 * Rates between neighbouring answers, each drawn at the later one.
	 * An interval longer than LATE_MS had no answers in it: it is drawn
	 * as a grey band and the lines break there, rather than joined with
	 * an average that would hide the stall.
	 */
	function intervals(from) {
		var out = [];

		for (var i = 1; i < samples.length; i++) {
			var a = samples[i - 1], b = samples[i];
			var dt = (b.t - a.t) / 1000;

			if (b.t < from || dt <= 0)
				continue;
			out.push({ t0: a.t, t: b.t, gap: b.t - a.t > LATE_MS,
				   rps: (b.req - a.req) / dt,
				   eps: (b.err - a.err) / dt });
		}
		return out;
	}

	function linePaths(points, key, x, y) {
		var d = "", area = "", run = [];

		function flush() {
			if (run.length > 1) {
				d += "M" + run.join("L");
				area += "M" + run[0].split(",")[0] + "," + y(0) +
					"L" + run.join("L") + "L" +
					run[run.length - 1].split(",")[0] + "," +
					y(0) + "Z";
			}
			run = [];
		}
		points.forEach(function (p) {
			if (p.gap)
				flush();
			run.push(x(p.t).toFixed(1) + "," + y(p[key]).toFixed(1));
		});
		flush();
		return { line: d, area: area };
	}

	function drawChart(now) {
		var W = 640, H = 170, L = 46, R = 10, T = 10, B = 22;
		var from = now - WINDOW_MS, chart = el.chart;
		var pts = intervals(from), top = 10;

		pts.forEach(function (p) {
			top = Math.max(top, p.rps, p.eps);
		});
		top = niceCeil(top);
		function x(t) {
			return L + (Math.max(t, from) - from) / WINDOW_MS * (W - L - R);
		}
		function y(v) {
			return H - B - v / top * (H - T - B);
		}
		while (chart.firstChild)
			chart.removeChild(chart.firstChild);
		[0, 0.5, 1].forEach(function (f) {
			svg(chart, "line", { class: "grid", x1: L, x2: W - R,
					     y1: y(top * f), y2: y(top * f) });
			svg(chart, "text", { class: "axis", x: L - 6, y: y(top * f) + 4,
					     "text-anchor": "end" },
			    grouped(top * f));
		});
		[60, 45, 30, 15, 0].forEach(function (s) {
			svg(chart, "text", { class: "axis", x: x(now - s * 1000),
					     y: H - 6, "text-anchor": s ? "middle" : "end" },
			    s ? "-" + s + " s" : "now");
		});
		pts.forEach(function (p) {
			if (p.gap)
				gapBand(chart, x(p.t0), x(p.t), T, H - B);
		});
		if (lastAt && now - lastAt > LATE_MS)
			gapBand(chart, x(lastAt), x(now), T, H - B);
		var rps = linePaths(pts, "rps", x, y);
		var eps = linePaths(pts, "eps", x, y);
		svg(chart, "path", { class: "area", d: rps.area });
		svg(chart, "path", { class: "rps", d: rps.line });
		/* Drawn only when there were errors: a red baseline alarms. */
		if (pts.some(function (p) { return p.eps > 0; }))
			svg(chart, "path", { class: "err", d: eps.line });
	}

	function gapBand(chart, x0, x1, top, bottom) {
		if (x1 - x0 < 1)
			return;
		svg(chart, "rect", { class: "gap", x: x0, y: top, width: x1 - x0,
				     height: bottom - top });
		if (x1 - x0 > 70)
			svg(chart, "text", { class: "gap-label", x: (x0 + x1) / 2,
					     y: top + 16, "text-anchor": "middle" },
			    "no answer");
	}

	/* ---- the status line and the clock ---------------------------------- */

	function drawStatus(now) {
		var late = !lastAt || now - lastAt > LATE_MS;
		var text;

		if (!lastAt)
			text = problem || "asking /api/stats\u2026";
		else if (late)
			text = "no answer for " + Math.round((now - lastAt) / 1000) +
				" s" + (problem ? " (" + problem + ")" : "");
		else
			text = "live, updated every second";
		setText(el.status, text);
		el.status.classList.toggle("fresh", !late);
		el.status.classList.toggle("late", late && lastAt > 0);
		el.live.classList.toggle("stale", late);
	}

	function tick() {
		var now = performance.now();

		drawStatus(now);
		drawChart(now);
	}

	/* ---- asking --------------------------------------------------------- */

	function remember(st, t) {
		/* A restarted server counts from zero again: so do we. */
		if (last && (st.requests < last.requests || st.uptime_s < last.uptime_s))
			samples = [];
		samples.push({ t: t, req: st.requests, err: st.responses["5xx"] });
		while (samples.length > 2 && samples[1].t < t - WINDOW_MS - 5000)
			samples.shift();
		last = st;
		lastAt = t;
	}

	function ask() {
		var ctl = new AbortController();
		var sent = performance.now();
		var timer = setTimeout(function () {
			ctl.abort();
		}, TIMEOUT_MS);

		fetch("/api/stats", { cache: "no-store", signal: ctl.signal })
			.then(function (r) {
				if (!r.ok)
					throw new Error("answered " + r.status);
				return r.json();
			})
			.then(function (st) {
				var t = performance.now();

				problem = "";
				remember(st, t);
				setText($("rtt"), duration((t - sent) * 1000));
				drawNumbers(st);
				updates++;
				el.live.setAttribute("data-updates", String(updates));
			})
			.catch(function (e) {
				problem = e.name === "AbortError" ?
					"asked, still waiting" : e.message;
			})
			.then(function () {
				clearTimeout(timer);
				tick();
				setTimeout(ask, Math.max(0, sent + POLL_MS -
							 performance.now()));
			});
	}

	function start() {
		el.live = $("live");
		el.status = $("status");
		el.chart = $("chart");
		el.queueCard = $("queue-card");
		el.errCard = $("err-card");
		el.live.setAttribute("data-updates", "0");
		tick();
		ask();
		setInterval(tick, 500);
	}

	if (document.readyState === "loading")
		document.addEventListener("DOMContentLoaded", start);
	else
		start();
})();
