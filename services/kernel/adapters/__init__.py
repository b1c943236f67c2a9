"""Backends shared by several services: blob stores (local disk, S3 via minio), the AMQP publisher (pika, with
publisher confirms) and SQLAlchemy engine creation. Vendor errors are translated to kernel errors here."""
