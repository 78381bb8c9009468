"""The cheapest request, for comparing one Locust process with wrk: liveness through one uplink."""

from __future__ import annotations

from locust import FastHttpUser, task


class LivenessUser(FastHttpUser):
    """No wait between requests: how fast one Locust process can drive the stack."""

    @task
    def live(self) -> None:
        with self.client.get("/health/live", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
