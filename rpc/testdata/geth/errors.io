>> {"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x17",false]}
<< {"jsonrpc":"2.0","id":1,"result":null}
>> {"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x0e48600203d0cffd8174fae7fa961eb405712507","0x17"]}
<< {"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"header not found"}}
>> {"jsonrpc":"2.0","id":3,"method":"eth_getTransactionByHash","params":["0x0100000000000000000000000000000000000000000000000000000000000000"]}
<< {"jsonrpc":"2.0","id":3,"result":null}
>> {"jsonrpc":"2.0","id":4,"method":"eth_getTransactionReceipt","params":["0x0100000000000000000000000000000000000000000000000000000000000000"]}
<< {"jsonrpc":"2.0","id":4,"result":null}
>> {"jsonrpc":"2.0","id":5,"method":"eth_getBlockByHash","params":["0x0100000000000000000000000000000000000000000000000000000000000000",false]}
<< {"jsonrpc":"2.0","id":5,"result":null}
>> {"jsonrpc":"2.0","id":6,"method":"eth_getProof","params":["0x32b31c4a3625cea9b315475f94f16ca88c587383",["0xzz"],"latest"]}
<< {"jsonrpc":"2.0","id":6,"error":{"code":-32602,"message":"invalid hex in storage key: \"0xzz\""}}
>> {"jsonrpc":"2.0","id":7,"method":"eth_nope","params":[]}
<< {"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"the method eth_nope does not exist/is not available"}}
>> {"jsonrpc":"2.0","id":8,"method":"eth_getStorageAt","params":["0x32b31c4a3625cea9b315475f94f16ca88c587383","0x000000000000000000000000000000000000000000000000000000000000000000","latest"]}
<< {"jsonrpc":"2.0","id":8,"error":{"code":-32602,"message":"storage key too long (want at most 32 bytes): \"0x000000000000000000000000000000000000000000000000000000000000000000\""}}
>> {"jsonrpc":"2.0","id":9,"method":"debug_traceTransaction","params":["0x0100000000000000000000000000000000000000000000000000000000000000"]}
<< {"jsonrpc":"2.0","id":9,"error":{"code":-32000,"message":"transaction not found"}}
>> {"jsonrpc":"2.0","id":10,"method":"eth_getBlockReceipts","params":["0x17"]}
<< {"jsonrpc":"2.0","id":10,"result":null}
>> {"jsonrpc":"2.0","id":11,"method":"eth_getUncleCountByBlockNumber","params":["0x17"]}
<< {"jsonrpc":"2.0","id":11,"result":null}
>> {"jsonrpc":"2.0","id":12,"method":"eth_getTransactionByBlockNumberAndIndex","params":["0x1","0x9"]}
<< {"jsonrpc":"2.0","id":12,"result":null}
