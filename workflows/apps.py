from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        from config import rows
        from workflows import receivers, selectors

        receivers.connect()
        rows.add_rider(selectors.published_trigger_types_rider)
