"""``POST /sdk/v1/events``: what devices and browsers report about the notifications they got.

Authenticated like every SDK endpoint (``X-SDK-Key``, resolved to its workspace and app by
``integrations.sdk_api.SdkView``), plus a signed delivery token per event, so an event can only be
recorded for a delivery of that app, and once per type."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from analytics import services
from analytics.models import SDK_EVENT_TYPES
from integrations.sdk_api import _SDK_KEY_PARAMETER, SdkView, request_data


class SdkEventSerializer(serializers.Serializer):
    delivery = serializers.CharField(
        required=False,
        help_text="The signed delivery token from the payload (`pp.delivery`, FCM `pp_delivery`).",
    )
    token = serializers.CharField(required=False, help_text="Alias of `delivery`.")
    type = serializers.ChoiceField(choices=list(SDK_EVENT_TYPES))
    occurred_at = serializers.DateTimeField(required=False, help_text="When it happened on the device.")
    metadata = serializers.DictField(required=False, help_text="Device, OS, app version… (≤ 2 KB).")


def events_of(data: dict) -> list[dict]:
    """The body's ``events``: a list of 1 to 100 objects, else a 400 (each event's fields are judged
    one by one by the service, so one bad event does not fail the batch). Checked by hand: at 100
    events a call, DRF's field-by-field validation was a tenth of the request's CPU."""
    events = data.get("events")
    problem = None
    if not isinstance(events, list):
        problem = "Expected a list of events."
    elif not events:
        problem = "Send at least one event."
    elif len(events) > services.MAX_EVENTS_PER_CALL:
        problem = f"At most {services.MAX_EVENTS_PER_CALL} events per call."
    else:
        bad = [index for index, event in enumerate(events) if not isinstance(event, dict)]
        if bad:
            raise serializers.ValidationError(
                {"events": {str(index): ["Each event must be an object."] for index in bad[:10]}}
            )
    if problem:
        raise serializers.ValidationError({"events": [problem]})
    return events


EventsResponse = inline_serializer(
    "SdkEventsResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "results": inline_serializer(
            "SdkEventResult",
            {
                "index": serializers.IntegerField(),
                "status": serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"]),
                "type": serializers.CharField(allow_null=True),
                "reason": serializers.CharField(required=False),
            },
            many=True,
        ),
    },
)


class EventsView(SdkView):
    @extend_schema(
        request=inline_serializer("SdkEvents", {"events": SdkEventSerializer(many=True)}),
        parameters=[_SDK_KEY_PARAMETER],
        responses={202: EventsResponse},
    )
    def post(self, request):
        """Report up to 100 events. Each is judged alone (``accepted``, ``duplicate`` — already
        recorded, counted once — or ``rejected`` with a reason); a malformed body is a 400."""
        events = events_of(request_data(request))
        results = services.events_ingest(app=self.app, workspace_id=self.workspace.pk, events=events)
        tally = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for result in results:
            tally[result.status] += 1
        return Response(
            {
                "accepted": tally["accepted"],
                "duplicates": tally["duplicate"],
                "rejected": tally["rejected"],
                "results": [r.as_dict() for r in results],
            },
            status=status.HTTP_202_ACCEPTED,
        )
