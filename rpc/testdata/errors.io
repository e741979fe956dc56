>> {"jsonrpc":"2.0","id":1,"method":"eth_nope","params":[]}
<< {"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the method eth_nope does not exist/is not available"}}
>> {"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x1234"]}
<< {"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"invalid argument 0: hex string has length 4, want 40 for common.Address"}}
>> {"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":[]}
<< {"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"missing value for required argument 0"}}
>> {"jsonrpc":"2.0","id":4,"method":"eth_sendRawTransaction","params":["0xzz"]}
<< {"jsonrpc":"2.0","id":4,"error":{"code":-32602,"message":"invalid argument 0: json: cannot unmarshal invalid hex string into Go value of type hexutil.Bytes"}}
>> {"jsonrpc":"2.0","id":5,"method":"eth_sendRawTransaction","params":["0x"]}
<< {"jsonrpc":"2.0","id":5,"error":{"code":-32000,"message":"typed transaction too short"}}
>> {"jsonrpc":"2.0","id":6,"method":"eth_subscribe","params":["newHeads"]}
<< {"jsonrpc":"2.0","id":6,"error":{"code":-32000,"message":"WebSocket connection required"}}
>> [{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":8,"method":"eth_nope","params":[]}]
<< [{"jsonrpc":"2.0","id":7,"result":"0x128b"},{"jsonrpc":"2.0","id":8,"error":{"code":-32601,"message":"the method eth_nope does not exist/is not available"}}]
>> {"jsonrpc":"2.0","id":9,"method":"anvil_nodeInfo","params":[]}
<< {"jsonrpc":"2.0","id":9,"error":{"code":-32601,"message":"the method anvil_nodeInfo does not exist/is not available"}}
>> {"jsonrpc":"2.0","id":10,"method":"eth_sendTransaction","params":[{"from":"0x000000000000000000000000000000000000dead","to":"0x000000000000000000000000000000000000beef"}]}
<< {"jsonrpc":"2.0","id":10,"error":{"code":-32000,"message":"unknown account 0x000000000000000000000000000000000000dEaD: only the devnet's unlocked accounts can sign"}}
>> {"jsonrpc":"2.0","id":11,"method":"eth_getLogs","params":[{"fromBlock":"0x1","blockHash":"0x0000000000000000000000000000000000000000000000000000000000000000"}]}
<< {"jsonrpc":"2.0","id":11,"error":{"code":-32602,"message":"invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"}}
