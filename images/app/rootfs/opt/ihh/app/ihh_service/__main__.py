"""Start the service: serve liveness at once, apply the schema once the primary answers, then be ready."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from ihh_service import forwarder
from ihh_service.api import NODE, Handler, Server, Service
from ihh_service.store import DatabaseUnavailableError, Pool, SchemaMissingError, check_schema, conninfo

SCHEMA_DEADLINE_S = 600


def apply_schema_when_primary_answers(service: Service) -> None:
    deadline = time.monotonic() + SCHEMA_DEADLINE_S
    while True:
        try:
            check_schema(service.pool)
        except (DatabaseUnavailableError, SchemaMissingError) as exc:
            if time.monotonic() > deadline:
                print(f"schema: no writable primary for {SCHEMA_DEADLINE_S} s: {exc}", flush=True)
                raise
            print(f"schema: waiting for the primary and its schema ({exc})", flush=True)
            time.sleep(1)  # retry pace while the cluster bootstraps; readiness stays 503 meanwhile
            continue
        service.schema_applied = True
        print("schema: present, audit trail writable", flush=True)
        forwarder.start(service.supervision, service.pool, NODE)
        return


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    service = Service(config, Pool(conninfo(config["db"]), size=int(config.get("pool_size", 8))))
    Handler.service = service
    server = Server(("0.0.0.0", int(config["listen_port"])), Handler)  # noqa: S104 - the app network only
    threading.Thread(target=apply_schema_when_primary_answers, args=(service,), daemon=True).start()
    print(f"serving on :{config['listen_port']}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
