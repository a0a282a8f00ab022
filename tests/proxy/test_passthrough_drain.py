"""A passthrough stream is vetted and audited after it was sent, in the background: a SIGTERM that
arrives meanwhile must not lose that audit record."""

from __future__ import annotations

import signal

from tests.review.test_processes import MSG, Serve
from tests.support.fake_upstream import Reply
from tests.support.review_helpers import read_audit

# consistency re-asks the upstream once the stream is complete; the fake answers re-asks slowly, so the
# background audit is still running when the SIGTERM comes.
POLICY = """
version: 1
name: passthrough-drain
rules:
  - name: audit-only-streams
    validators:
      - use: consistency
        with: {samples: 2, semantic_weight: 0, min_answer_chars: 10}
    on_fail: annotate
    stream: {mode: passthrough}
"""
ANSWER = "The Eiffel Tower is in Paris and was finished in 1889 for the World's Fair."


def test_sigterm_waits_for_the_audit_of_a_stream_already_sent(fake, tmp_path):
    fake.reset(lambda body: Reply(text=ANSWER) if body.get("stream") else Reply(text=ANSWER, delay=1.5))
    pol = tmp_path / "policy.yaml"
    pol.write_text(POLICY)
    store = f"sqlite:///{tmp_path / 'llmvet.db'}"
    server = Serve(fake.url + "/v1", pol, store, tmp_path / "serve.log").ready()
    try:
        chunks = list(server.client().chat.completions.create(model="gpt-x", messages=MSG, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == ANSWER
        # The stream is out; its consistency re-asks still wait on the slow upstream, so no record yet.
        assert read_audit(store) == []
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
    finally:
        server.stop()
    records = read_audit(store)
    assert len(records) == 1, (tmp_path / "serve.log").read_text()[-3000:]
    (record,) = records
    assert record["stream"] is True and record["action"] == "allow"
    # The re-asks finished: the check passed, it did not error on a closed upstream client.
    assert [(v["validator"], v["status"]) for v in record["validators"]] == [("consistency", "passed")]
