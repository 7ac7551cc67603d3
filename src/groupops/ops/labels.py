"""Message labels: every customer text message classified once and kept in ``message_labels``.

Labelling is incremental: only messages without a label are classified, so the daily run
costs as much as the day's new messages. Labels are a derived warehouse table keyed on
``msgid`` and written with the same atomic commit as the facts.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from groupops.store.schemas import FACT_SCHEMAS
from groupops.store.warehouse import LINE_COLUMN, Warehouse

__all__ = ["LabelRun", "label_new_messages"]

_BATCH = 200_000

_UNLABELLED_SQL = """
SELECT m.msgid, m.group_id, m.sender_id, m.sent_at, m.text, m.month
FROM messages m ANTI JOIN message_labels l ON m.msgid = l.msgid
WHERE m.action = 'send' AND m.msgtype = 'text' AND NOT m.sender_is_staff AND NOT m.revoked
  AND m.text IS NOT NULL AND m.text <> ''
ORDER BY m.sent_at, m.msgid
"""


class LabelRun:
    """Counts of one labelling run."""

    def __init__(self) -> None:
        self.labelled = 0


def _label_batch(batch: pa.RecordBatch, start_line: int) -> pa.Table:
    from groupops.text.classify import classify_messages
    from groupops.text.hygiene import detect_spam

    texts = batch.column("text").to_pylist()
    distinct = list(
        dict.fromkeys(texts)
    )  # group chat repeats itself (打卡, 好的, 谢谢): classify each text once
    by_text = dict(zip(distinct, classify_messages(distinct), strict=True))
    spam_by_text = {text: detect_spam(text).is_spam for text in distinct}
    labels = [by_text[text] for text in texts]
    columns = {
        "msgid": batch.column("msgid"),
        "group_id": batch.column("group_id"),
        "sender_id": batch.column("sender_id"),
        "sent_at": batch.column("sent_at"),
        "sentiment": pa.array([label.sentiment for label in labels], pa.string()),
        "score": pa.array([float(label.score) for label in labels], pa.float64()),
        "complaint": pa.array([label.complaint for label in labels], pa.bool_()),
        "question": pa.array([label.question for label in labels], pa.bool_()),
        "intents": pa.array([list(label.intents) for label in labels], pa.list_(pa.string())),
        "spam": pa.array([spam_by_text[text] for text in texts], pa.bool_()),
        "month": batch.column("month"),
    }
    table = pa.table(columns, schema=FACT_SCHEMAS["message_labels"])
    return table.append_column(LINE_COLUMN, pa.array(range(start_line, start_line + len(texts)), pa.int64()))


def label_new_messages(warehouse: Warehouse, progress: Callable[[int], None] = lambda n: None) -> LabelRun:
    """Classify customer text messages that have no label yet and commit their labels."""
    run = LabelRun()
    with warehouse.connect(memory_limit="1GB") as connection:
        reader = connection.sql(_UNLABELLED_SQL).to_arrow_reader(_BATCH)
        with warehouse.staged_import("message_labels") as staged:
            for batch in reader:
                staged.add(_label_batch(batch, run.labelled))
                run.labelled += batch.num_rows
                progress(batch.num_rows)
            warehouse.commit(staged)
    return run
