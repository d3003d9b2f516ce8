"""One-time link URLs (usable tokens) leave StepRun.output and Enrollment.values: a link
step keeps its link's id, and `{{ <key>.url }}` is computed from it when used. Any other
stored text that quoted a secret URL (an email subject output) gets the token redacted."""

import re

from django.db import migrations

SECRET_PATH = re.compile(r"/(b|l)/[A-Za-z0-9_\-]{34}(?![A-Za-z0-9_\-])")
LINK_TYPE = "generate_one_time_link"


def _scrub(outputs: dict) -> dict:
    return {
        name: SECRET_PATH.sub(r"/\1/[redacted]", value) if isinstance(value, str) else value
        for name, value in outputs.items()
    }


def drop_stored_urls(apps, schema_editor):
    StepRun = apps.get_model("workflows", "StepRun")
    Enrollment = apps.get_model("workflows", "Enrollment")
    link_ids: dict[tuple[int, str], object] = {}
    for step in StepRun.objects.exclude(output={}).only(
        "pk", "enrollment_id", "key", "type", "output"
    ):
        output = dict(step.output or {})
        if step.type == LINK_TYPE:
            output.pop("url", None)
            if output.get("link_id") is not None:
                link_ids[(step.enrollment_id, step.key)] = output["link_id"]
        output = _scrub(output)
        if output != step.output:
            StepRun.objects.filter(pk=step.pk).update(output=output)
    for enrollment in Enrollment.objects.exclude(values={}).only("pk", "values", "actions"):
        types = {spec.get("key"): spec.get("type") for spec in enrollment.actions or ()}
        values = {}
        for namespace, outputs in (enrollment.values or {}).items():
            outputs = dict(outputs)
            if types.get(namespace) == LINK_TYPE and "url" in outputs:
                outputs.pop("url")
                link_id = link_ids.get((enrollment.pk, namespace))
                if link_id is not None:
                    outputs["link_id"] = str(link_id)
            values[namespace] = _scrub(outputs)
        if values != enrollment.values:
            Enrollment.objects.filter(pk=enrollment.pk).update(values=values)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(drop_stored_urls, migrations.RunPython.noop),
    ]
