import os

from flask import Flask, jsonify, request, session

from app import telemetry

app = Flask(__name__)
app.secret_key = os.environ["SHOP_SECRET_KEY"]
telemetry.setup(app)


@app.post("/cart")
def add_to_cart():
    cart = session.setdefault("cart", [])
    cart.append(request.json["sku"])
    session.modified = True
    return jsonify(cart)


@app.get("/cart")
def show_cart():
    return jsonify(session.get("cart", []))
