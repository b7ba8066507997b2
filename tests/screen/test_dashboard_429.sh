#!/usr/bin/env bash
# A 429 from the provider shows on the screen and the dashboard recovers.
# The simulator admits one request every 3 s (rpm 20, burst 1) while
# aimeter's own limits are far above that; its first answer (and with it
# the headers that would teach the limiter) comes 400 ms later, so a quick
# burst of three prompts meets a 429 (retry-after 3 s). The limits panel then shows the 429 and a
# "cool-down Ns" countdown, the waiting prompt says what it waits for, and
# once the cool-down ends every prompt is answered.
. "$(dirname "$0")/lib.sh"
write_config '{ "limits": { "rpm": 600, "rpm_burst": 10, "learn_from_headers": false },
                "client": { "max_retries": 6 },
                "sim": { "rpm": 20, "rpm_burst": 1, "latency_ms": 400,
                         "tokens_per_second": 0 } }'
start 120 40
for i in 1 2 3; do
	type_line "question $i about rate limits"
done
wait_for "cool-down [1-9][0-9]*s" -E
wait_for "429s [1-9]" -E
wait_for "waiting for RPM cool-down"
# Recovery: every prompt answered, the countdown gone, nothing queued.
SCREEN_TIMEOUT=40 wait_for 'total +3 ' -E
wait_gone "cool-down"
wait_for "queue 0  in flight 0"
screen | grep -q "failed" && fail "a prompt failed"
quit F10
