// Package model holds the GraphQL types gqlgen generates from the schema and the hand-written
// types it binds to.
package model
