-- nightly report still run by v1's reporting job
SELECT u.email, u.nickname, count(o.id) AS orders
FROM users u LEFT JOIN orders o ON o.user_id = u.id
GROUP BY u.email, u.nickname;
