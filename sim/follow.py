"""How the simulated Twilio carries out each verb and each caller answer.

`VerbFollower` is mixed into `CallerSimulator`: `execute(verb)` runs one verb and says
whether the call now waits for the caller; `resolve(verb, action)` applies the
caller's answer to that wait; `caller_hangs_up(verb)` ends the call at a wait, posting
what Twilio posts when a caller hangs up there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sim import actions as act
from sim import verbs as v
from sim.params import (
    dial_fields,
    new_sid,
    pay_fields,
    pay_status_fields,
    queue_action_fields,
    queue_wait_fields,
    record_action_fields,
    recording_status_fields,
    transcription_fields,
)

if TYPE_CHECKING:
    from sim.caller import CallerSimulator

PLAY_SECONDS = 5
PAY_SECONDS = 40


def speech_seconds(text: str) -> float:
    """Roughly how long text-to-speech takes to say `text`."""
    return max(1.0, len(text.split()) / 2.5)


class VerbFollower:
    """Verb-by-verb behaviour of the simulated Twilio (a mixin of CallerSimulator)."""

    # -- verbs --------------------------------------------------------------------

    def execute(self: CallerSimulator, verb: v.Verb) -> bool:
        """Carry out one verb; True when the call now waits for the caller."""
        if isinstance(verb, v.Say | v.Play | v.Pause):
            self.hear(verb)
        elif isinstance(verb, v.Gather):
            for prompt in verb.children:
                self.hear(prompt)
            return True
        elif isinstance(verb, v.Record):
            if verb.play_beep:
                self.event("beep")
            return True
        elif isinstance(verb, v.Pay):
            self.start_pay(verb)
            return True
        elif isinstance(verb, v.Dial):
            return True
        elif isinstance(verb, v.Enqueue):
            return self.enter_queue(verb)
        elif isinstance(verb, v.Redirect):
            self.load("redirect", self.resolve_url(verb.url), self.call_fields(), verb.method)
        elif isinstance(verb, v.Hangup):
            self.finish("hangup")
        elif isinstance(verb, v.Reject):
            self.finish("rejected", "busy" if verb.reason == "busy" else "no-answer")
        elif isinstance(verb, v.Connect | v.Start | v.Stop):
            self.connect(verb)
        elif isinstance(verb, v.Sms):
            self.send_sms(verb)
        # <Leave> outside a queue's wait music does nothing.
        return False

    def hear(self: CallerSimulator, prompt: v.Say | v.Play | v.Pause) -> None:
        """The caller hears a Say or Play, or waits through a Pause."""
        if isinstance(prompt, v.Pause):
            self.event("pause", seconds=prompt.length)
            self.tick(prompt.length)
            return
        repeats = max(prompt.loop, 1)
        if isinstance(prompt, v.Say):
            self.event(
                "heard",
                prompt.text,
                verb="say",
                voice=prompt.voice,
                language=prompt.language,
                loop=prompt.loop,
            )
            self.tick(speech_seconds(prompt.text) * repeats)
        else:
            self.event(
                "heard",
                prompt.url or f"DTMF {prompt.digits}",
                verb="play",
                url=prompt.url,
                digits=prompt.digits,
                loop=prompt.loop,
            )
            self.tick(PLAY_SECONDS * repeats)

    def start_pay(self: CallerSimulator, pay: v.Pay) -> None:
        """Open a payment session: notify the statusCallback, play custom prompts."""
        self.pay_sid = new_sid("PK")
        if pay.status_callback:
            self.notify(
                "pay status callback",
                self.resolve_url(pay.status_callback),
                pay_status_fields(self.identity, pay, self.pay_sid, self.now),
                pay.status_callback_method,
            )
        for prompt in pay.prompts:
            self.hear(prompt)

    def connect(self: CallerSimulator, verb: v.Connect | v.Start | v.Stop) -> None:
        """<Connect>/<Start>: note the stream; the simulated stream ends at once."""
        if isinstance(verb, v.Stop):
            self.event("stop", ", ".join(n.kind for n in verb.nouns))
            return
        targets = ", ".join(f"{n.kind} {n.url or ''}".strip() for n in verb.nouns)
        self.event(
            "connect",
            targets,
            verb=type(verb).__name__,
            nouns=[{"kind": n.kind, **n.attrs, "parameters": n.parameters} for n in verb.nouns],
        )
        if isinstance(verb, v.Connect) and verb.action:
            self.load(
                "connect action",
                self.resolve_url(verb.action),
                self.call_fields(),
                verb.method,
            )

    def send_sms(self: CallerSimulator, verb: v.Sms) -> None:
        """<Sms>/<Message>: the text is sent; an action gets SmsSid and SmsStatus."""
        self.event("sms", verb.body, to=verb.to or self.identity.from_, from_=verb.from_)
        if verb.action:
            fields = {
                **self.call_fields(),
                "SmsSid": new_sid("SM"),
                "SmsStatus": "sent",
            }
            self.load("sms action", self.resolve_url(verb.action), fields, verb.method)

    # -- caller answers ------------------------------------------------------------

    def resolve(self: CallerSimulator, verb: v.Verb, action: act.Action) -> None:
        """Apply the caller's answer to the verb the call waits at."""
        if isinstance(verb, v.Gather):
            self.answer_gather(verb, action)
        elif isinstance(verb, v.Record):
            audio = action if isinstance(action, act.RecordAudio) else act.RecordAudio(0)
            self.answer_record(verb, audio)
        elif isinstance(verb, v.Pay):
            result = (
                action if isinstance(action, act.PayResult) else act.PayResult(success=False, result="input-timeout")
            )
            self.answer_pay(verb, result)
        elif isinstance(verb, v.Dial) and isinstance(action, act.DialResult):
            self.answer_dial(verb, action)
        elif isinstance(verb, v.Enqueue) and isinstance(action, act.QueueResult):
            self.leave_queue(verb, action)

    def caller_hangs_up(self: CallerSimulator, verb: v.Verb) -> None:
        """The caller hangs up while the call waits at `verb`."""
        if isinstance(verb, v.Record):
            self.answer_record(verb, act.RecordAudio(0, hang_up=True))
        elif isinstance(verb, v.Enqueue):
            self.leave_queue(verb, act.QueueResult("hangup", 0))
        elif isinstance(verb, v.Pay):
            self.answer_pay(verb, act.PayResult(success=False, result="caller-hung-up"), hung_up=True)
        elif isinstance(verb, v.Dial):
            self.answer_dial(verb, act.DialResult("completed", duration=0), hung_up=True)
        else:
            self.event("caller_hangup")
        self.finish("caller_hangup")

    def answer_gather(self: CallerSimulator, gather: v.Gather, action: act.Action) -> None:
        """Press, Say or Silence at a Gather: post the input, or fall through on none."""
        fields: dict[str, str] | None = None
        if isinstance(action, act.Press):
            if gather.accepts("dtmf"):
                digits, finished = _collect_digits(gather, action.digits)
                self.event("pressed", action.digits)
                self.tick(len(action.digits) + (0 if finished or _full(gather, digits) else gather.timeout))
                if digits:
                    fields = {"Digits": digits, "FinishedOnKey": finished}
            else:
                self.event("pressed", action.digits, ignored="this Gather listens for speech")
                self.tick(gather.timeout)
        elif isinstance(action, act.Say):
            if gather.accepts("speech"):
                self.event("said", action.text, confidence=action.confidence)
                self.tick(speech_seconds(action.text) + 1)
                fields = {
                    "SpeechResult": action.text,
                    "Confidence": f"{action.confidence:.8f}",
                }
            else:
                self.event("said", action.text, ignored="this Gather listens for keys only")
                self.tick(gather.timeout)
        else:
            self.event("silence", timeout=gather.timeout)
            self.tick(gather.timeout)
        if fields is None and gather.action_on_empty_result:
            fields = {"Digits": ""} if gather.accepts("dtmf") else {}
        if fields is not None:
            self.load(
                "gather action",
                self.resolve_url(gather.action),
                {**self.call_fields(), **fields},
                gather.method,
            )
        # No input: Twilio goes on with the verb after the Gather.

    def answer_record(self: CallerSimulator, record: v.Record, audio: act.RecordAudio) -> None:
        """Post the recording to the action, then the recording and transcription callbacks."""
        if audio.duration == 0:
            self.event("recorded", duration=0)
            self.tick(record.timeout)
            if audio.hang_up:
                self.event("caller_hangup")
                self.finish("caller_hangup")
            return  # Nothing recorded: Twilio skips the action and goes on.
        duration = min(audio.duration, record.max_length)
        digits = ""
        if audio.hang_up:
            digits = "hangup"
        elif audio.finish_key and audio.finish_key in record.finish_on_key and duration == audio.duration:
            digits = audio.finish_key
        self.event("recorded", audio.transcript or "", duration=duration, digits=digits)
        self.tick(duration)
        recording_sid = new_sid("RE")
        started = self.now - timedelta(seconds=duration)
        fields = {
            **self.call_fields("completed" if audio.hang_up else "in-progress"),
            **record_action_fields(self.identity, recording_sid, duration, digits),
        }
        url = self.resolve_url(record.action)
        if audio.hang_up:
            self.event("caller_hangup")
            self.notify("record action", url, fields, record.method)
            self.recording_callbacks(record, recording_sid, duration, audio, started)
            self.finish("caller_hangup")
        answer = self.fetch("record action", url, fields, record.method)
        self.recording_callbacks(record, recording_sid, duration, audio, started)
        self.adopt(answer)

    def recording_callbacks(
        self: CallerSimulator,
        record: v.Record,
        recording_sid: str,
        duration: int,
        audio: act.RecordAudio,
        started: datetime,
    ) -> None:
        """Twilio's asynchronous recording-status and transcription callbacks."""
        if record.recording_status_callback and ("completed" in record.recording_status_callback_event):
            self.notify(
                "recording status callback",
                self.resolve_url(record.recording_status_callback),
                recording_status_fields(self.identity, recording_sid, duration, started),
                record.recording_status_callback_method,
            )
        if record.transcribe and record.transcribe_callback:
            self.notify(
                "transcription callback",
                self.resolve_url(record.transcribe_callback),
                transcription_fields(self.identity, recording_sid, audio),
            )

    def answer_pay(self: CallerSimulator, pay: v.Pay, result: act.PayResult, hung_up: bool = False) -> None:
        """Post Twilio's <Pay> result fields to the statusCallback and the action."""
        fields = pay_fields(pay, result)
        detail = fields.get("PaymentError", "")
        if result.success:
            what = f"charged {pay.charge_amount} {pay.currency}" if pay.is_charge else "tokenized"
            detail = f"{what}, {result.card_type} {fields['PaymentCardNumber']}"
        self.event("paid", f"{result.outcome} ({detail})", result=result.outcome)
        self.tick(PAY_SECONDS if result.success else pay.timeout)
        if pay.status_callback:
            self.notify(
                "pay status callback",
                self.resolve_url(pay.status_callback),
                pay_status_fields(self.identity, pay, self.pay_sid, self.now, fields),
                pay.status_callback_method,
            )
        self.after_wait("pay action", pay.action, pay.method, fields, hung_up)

    def answer_dial(self: CallerSimulator, dial: v.Dial, result: act.DialResult, hung_up: bool = False) -> None:
        """Post DialCallStatus and friends to the action, or go on with the next verb."""
        fields = dial_fields(result)
        self.event("dialed", result.status, target=dial.target, duration=int(fields.get("DialCallDuration", 0)))
        self.tick(result.duration if "DialCallDuration" in fields else dial.timeout)
        self.after_wait("dial action", dial.action, dial.method, fields, hung_up)

    def after_wait(
        self: CallerSimulator, label: str, action: str | None, method: str, fields: dict[str, str], hung_up: bool
    ) -> None:
        """Request a verb's action and go on with its TwiML; after a hangup, notify and end."""
        if hung_up:
            self.event("caller_hangup")
            if action:
                self.notify(label, self.resolve_url(action), {**self.call_fields("completed"), **fields}, method)
            self.finish("caller_hangup")
        if action:
            self.load(label, self.resolve_url(action), {**self.call_fields(), **fields}, method)

    # -- queues ----------------------------------------------------------------------

    def enter_queue(self: CallerSimulator, enqueue: v.Enqueue) -> bool:
        """Request the waitUrl once and play its TwiML; True while the caller waits."""
        self.queue_sid = new_sid("QU")
        if not enqueue.wait_url:
            return True
        fields = {**self.call_fields(), **queue_wait_fields(self.queue_sid)}
        answer = self.fetch(
            "enqueue wait url",
            self.resolve_url(enqueue.wait_url),
            fields,
            enqueue.wait_url_method,
        )
        if answer.error is not None:
            self.adopt(answer)  # ends the call with the error
        for verb in answer.verbs or []:
            if isinstance(verb, v.Say | v.Play | v.Pause):
                self.hear(verb)
            elif isinstance(verb, v.Leave):
                self.leave_queue(enqueue, act.QueueResult("leave", 0))
                return False
            elif isinstance(verb, v.Hangup):
                self.finish("hangup")
        return True

    def leave_queue(self: CallerSimulator, enqueue: v.Enqueue, result: act.QueueResult) -> None:
        """Post QueueResult to the action; a hangup ends the call whatever it answers."""
        self.event("queued", result.result, queue=enqueue.name or enqueue.workflow_sid, wait=result.wait)
        self.tick(result.wait)
        fields = queue_action_fields(self.queue_sid or new_sid("QU"), result)
        self.after_wait("enqueue action", enqueue.action, enqueue.method, fields, result.result == "hangup")


def _collect_digits(gather: v.Gather, pressed: str) -> tuple[str, str]:
    """The Digits Twilio reports for `pressed`, and the finishOnKey that ended them."""
    digits = ""
    for key in pressed:
        if gather.finish_on_key and key == gather.finish_on_key:
            return digits, key
        digits += key
        if _full(gather, digits):
            break
    return digits, ""


def _full(gather: v.Gather, digits: str) -> bool:
    return gather.num_digits is not None and len(digits) >= gather.num_digits
