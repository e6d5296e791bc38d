-- tests/bench/report.lua - make wrk print its results as data.
--
-- wrk calls done() once, after the run, with the totals of all its threads.
-- We print one key=value per line after a marker line, so bench.sh can read
-- them with awk instead of parsing wrk's human-readable text.
--
-- Latencies are in microseconds.  errors_status counts responses with a
-- status of 400 or more (wrk's definition); the bench's URLs never answer
-- 1xx or 3xx, so it is the number of non-2xx responses.
--
-- No request() or response() callback on purpose: defining one makes wrk
-- call into Lua for every request, which would slow the load generator.

done = function(summary, latency, requests)
	local e = summary.errors
	local out = {
		"requests=" .. summary.requests,
		"duration_us=" .. summary.duration,
		"bytes=" .. summary.bytes,
		"errors_connect=" .. e.connect,
		"errors_read=" .. e.read,
		"errors_write=" .. e.write,
		"errors_timeout=" .. e.timeout,
		"errors_status=" .. e.status,
		"latency_p50_us=" .. latency:percentile(50),
		"latency_p99_us=" .. latency:percentile(99),
		"latency_max_us=" .. latency.max,
		"latency_mean_us=" .. string.format("%.0f", latency.mean),
	}
	io.write("--- bench results ---\n")
	io.write(table.concat(out, "\n"), "\n")
end
