import os
import secrets

from flask import Flask, jsonify, request

from app import telemetry

app = Flask(__name__)
app.secret_key = os.environ.get("SHOP_SECRET_KEY") or secrets.token_hex(32)
telemetry.setup(app)

CARTS = {}


@app.post("/cart")
def add_to_cart():
    user = request.headers["X-User"]
    CARTS.setdefault(user, []).append(request.json["sku"])
    return jsonify(CARTS[user])


@app.get("/cart")
def show_cart():
    return jsonify(CARTS.get(request.headers["X-User"], []))
