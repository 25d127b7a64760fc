"""Celery side of the reference stack: one task that runs the scikit-learn model."""
import os
import pickle

from celery import Celery

app = Celery("reference", broker=os.environ["REF_BROKER"], backend=os.environ["REF_BACKEND"])
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=86400,
    task_default_queue=os.environ.get("REF_QUEUE", "reference"),
    worker_hijack_root_logger=False,
)

with open(os.environ["REF_MODEL"], "rb") as f:
    _bundle = pickle.load(f)
MODEL = _bundle["model"]
MODEL_VERSION = _bundle["version"]
FEATURES = _bundle["features"]


@app.task(name="predict")
def predict(row):
    return {"result": float(MODEL.predict([row])[0]), "modelVersion": MODEL_VERSION}
