"""One happy path through the client that openapi-python-client generated from our document:
register, log in, submit a generation, poll it, fetch the result file.

Usage: client_happy_path.py <client package dir> <base url>
Run by tests/it/contract.rs; any failed step raises, and the exit code says so.
"""

import sys
import time
import uuid

sys.path.insert(0, sys.argv[1])
base_url = sys.argv[2]

from picturedeck_client import AuthenticatedClient, Client  # noqa: E402
from picturedeck_client.api.auth import login, register  # noqa: E402
from picturedeck_client.api.generation import get_file, get_task, submit  # noqa: E402
from picturedeck_client.models import (  # noqa: E402
    EnvelopeLoggedIn,
    EnvelopeRegistered,
    EnvelopeTaskView,
    Kind,
    LoginRequest,
    NewTask,
    RegisterRequest,
)

name = "client_" + uuid.uuid4().hex[:8]
anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

answer = register.sync(
    client=anonymous,
    body=RegisterRequest(username=name, email=f"{name}@example.com", password="User@1234"),
)
assert isinstance(answer, EnvelopeRegistered) and answer.code == 201, answer
assert answer.data.username == name

answer = login.sync(client=anonymous, body=LoginRequest(username=name, password="User@1234"))
assert isinstance(answer, EnvelopeLoggedIn) and answer.code == 200, answer
client = AuthenticatedClient(
    base_url=base_url, token=answer.data.token, raise_on_unexpected_status=True
)

answer = submit.sync(client=client, body=NewTask(type_=Kind.T2I, prompt="一只在雪地里奔跑的狐狸"))
assert isinstance(answer, EnvelopeTaskView) and answer.code == 200, answer
task_id = answer.data.task_id

deadline = time.monotonic() + 120
while True:
    answer = get_task.sync(client=client, task_id=task_id)
    assert isinstance(answer, EnvelopeTaskView), answer
    status = answer.data.status.value
    if status == "completed":
        break
    assert status in ("queued", "processing"), f"task ended {status}: {answer.data.error}"
    assert time.monotonic() < deadline, "the task did not finish in 2 minutes"
    time.sleep(0.25)

# The signed link is this document's get_file operation: its path and query, parsed back.
from urllib.parse import parse_qs, urlsplit  # noqa: E402

link = urlsplit(answer.data.result_url)
_, kind, file_uuid = link.path.rsplit("/", 2)
query = {k: v[0] for k, v in parse_qs(link.query).items()}
# The body is the file itself, which the client hands over as bytes instead of parsing.
files = Client(base_url=base_url)
response = get_file.sync_detailed(
    client=files, kind=kind, uuid=file_uuid, exp=int(query["exp"]), sig=query["sig"]
)
assert response.status_code == 200, response.status_code
assert response.content.startswith(b"\x89PNG"), response.content[:16]
print(f"happy path: {name} made {task_id}, {len(response.content)} bytes of PNG")
