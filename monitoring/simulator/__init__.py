"""The plant simulator: seeded machines served over Modbus TCP and OPC UA on loopback (`manage.py simulate_plant`)."""
